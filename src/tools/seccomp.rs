//! The seccomp filter of the tool sandbox, a second layer under bubblewrap's namespaces: the
//! system calls a tool (a small Python function on JSON) never needs, and that attacks start
//! from, fail with `EPERM`: sockets of any kind, `ptrace` and reading or writing another
//! process's memory, io_uring, BPF, user faults, perf events, keyrings, mounts, namespaces,
//! `chroot`, kernel modules and `kexec`. A system call of another ABI (x32, or another
//! architecture) ends the process.
//!
//! Pure: [`program`] builds the classic BPF program that bubblewrap loads (`--seccomp FD`,
//! the raw `struct sock_filter` array). Built for x86_64 only; elsewhere [`program`] is
//! `None` and the sandbox runs with its namespaces and limits alone.

/// One classic BPF instruction, as the kernel reads it (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Instruction {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// `AUDIT_ARCH_X86_64`: EM_X86_64 with the 64-bit and little-endian flags.
#[cfg(target_arch = "x86_64")]
const ARCH: u32 = 0xC000_003E;
/// System call numbers at and above this are the x32 ABI on x86_64.
#[cfg(target_arch = "x86_64")]
const X32_BIT: u32 = 0x4000_0000;

/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH_OFFSET: u32 = 4;

/// The system calls that fail with `EPERM`.
#[cfg(target_arch = "x86_64")]
const DENIED: &[libc::c_long] = &[
    libc::SYS_socket,
    libc::SYS_socketpair,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_bpf,
    libc::SYS_userfaultfd,
    libc::SYS_perf_event_open,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
];

fn stmt(code: u32, k: u32) -> Instruction {
    Instruction {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> Instruction {
    Instruction {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

#[cfg(target_arch = "x86_64")]
fn instructions() -> Vec<Instruction> {
    use libc::{
        BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, SECCOMP_RET_ALLOW,
        SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS,
    };
    let load = BPF_LD | BPF_W | BPF_ABS;
    let ret = BPF_RET | BPF_K;
    let mut p = vec![
        stmt(load, ARCH_OFFSET),
        jump(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        stmt(ret, SECCOMP_RET_KILL_PROCESS),
        stmt(load, NR),
        jump(BPF_JMP | BPF_JGE | BPF_K, X32_BIT, 0, 1),
        stmt(ret, SECCOMP_RET_KILL_PROCESS),
    ];
    for &nr in DENIED {
        p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr as u32, 0, 1));
        p.push(stmt(ret, SECCOMP_RET_ERRNO | libc::EPERM as u32));
    }
    p.push(stmt(ret, SECCOMP_RET_ALLOW));
    p
}

/// The filter as bubblewrap reads it from `--seccomp FD`: the instructions' bytes, in the
/// machine's byte order. `None` where no filter is built (not x86_64).
pub fn program() -> Option<Vec<u8>> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut bytes = Vec::new();
        for i in instructions() {
            bytes.extend_from_slice(&i.code.to_ne_bytes());
            bytes.push(i.jt);
            bytes.push(i.jf);
            bytes.extend_from_slice(&i.k.to_ne_bytes());
        }
        Some(bytes)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Runs the program on one system call, as the kernel would.
    fn verdict(arch: u32, nr: u32) -> u32 {
        let p = instructions();
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let class = u32::from(i.code) & 0x07;
            match class {
                c if c == libc::BPF_LD => {
                    acc = if i.k == ARCH_OFFSET { arch } else { nr };
                    pc += 1;
                }
                c if c == libc::BPF_JMP => {
                    let op = u32::from(i.code) & 0xf0;
                    let taken = if op == libc::BPF_JEQ {
                        acc == i.k
                    } else {
                        acc >= i.k
                    };
                    pc += 1 + usize::from(if taken { i.jt } else { i.jf });
                }
                _ => return i.k,
            }
        }
    }

    #[test]
    fn denied_calls_fail_with_eperm_and_the_rest_pass() {
        let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        for &nr in DENIED {
            assert_eq!(verdict(ARCH, nr as u32), eperm, "syscall {nr}");
        }
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_openat,
            libc::SYS_mmap,
            libc::SYS_exit_group,
        ] {
            assert_eq!(
                verdict(ARCH, nr as u32),
                libc::SECCOMP_RET_ALLOW,
                "syscall {nr}"
            );
        }
    }

    #[test]
    fn another_abi_ends_the_process() {
        let kill = libc::SECCOMP_RET_KILL_PROCESS;
        assert_eq!(verdict(0x4000_0003, libc::SYS_read as u32), kill, "i386");
        assert_eq!(
            verdict(ARCH, X32_BIT | libc::SYS_socket as u32),
            kill,
            "x32"
        );
    }

    #[test]
    fn the_program_is_whole_instructions_within_the_kernel_limit() {
        let bytes = program().unwrap();
        assert_eq!(bytes.len() % 8, 0);
        assert!(bytes.len() / 8 <= 4096);
    }
}
