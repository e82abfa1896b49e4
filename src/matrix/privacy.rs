//! Which rooms the bot talks in: only an end-to-end encrypted room whose members (joined or
//! invited) are exactly its owner and the bot. Anywhere else its replies, the memory
//! commands, exports and digests would be read by others, so it says why it is pausing and
//! sends nothing more; when the room becomes private again, it carries on. The rule is pure;
//! `bot.rs` reads a room's state into it, on every message that comes in and on everything
//! that goes out.

use matrix_sdk::RoomMemberships;
use matrix_sdk::room::Room;

/// What a room is, for the bot's purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Privacy {
    /// Encrypted, and only the owner and the bot are in it.
    Private,
    /// More (or fewer) people than the owner and the bot are joined or invited.
    Shared { members: u64 },
    /// Not end-to-end encrypted (or not known to be).
    Unencrypted,
}

/// The rule: members counts joined and invited members, the bot included.
pub fn judge(members: u64, encrypted: bool) -> Privacy {
    if !encrypted {
        Privacy::Unencrypted
    } else if members != 2 {
        Privacy::Shared { members }
    } else {
        Privacy::Private
    }
}

/// What the bot says in a room it will not talk in (nothing personal: anyone there reads it).
pub fn refusal(p: Privacy) -> Option<String> {
    match p {
        Privacy::Private => None,
        Privacy::Shared { members } => Some(format!(
            "I only talk in a private room with just you and me, and {members} people are in this one, so I'm pausing here: nothing I know about you goes into a room others can read. Start a direct chat with me (encrypted) and I'll carry on there."
        )),
        Privacy::Unencrypted => Some(
            "This room isn't end-to-end encrypted, so I won't answer here: what I know about you stays out of rooms the server can read. Start an encrypted direct chat with me and I'll carry on there."
                .to_owned(),
        ),
    }
}

/// The room's privacy now. The member list is the room's full one (fetched from the server
/// once, then kept current by sync); an encryption state the last sync did not carry is
/// asked of the server. What cannot be known counts against the room.
pub async fn of(room: &Room) -> Privacy {
    let encrypted = if room.encryption_state().is_unknown() {
        room.latest_encryption_state()
            .await
            .map(|s| s.is_encrypted())
            .unwrap_or(false)
    } else {
        room.encryption_state().is_encrypted()
    };
    let members = match room.members(RoomMemberships::ACTIVE).await {
        Ok(m) => m.len() as u64,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the room's members");
            0
        }
    };
    judge(members, encrypted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_encrypted_room_of_two_is_private() {
        assert_eq!(judge(2, true), Privacy::Private);
        assert_eq!(judge(3, true), Privacy::Shared { members: 3 });
        assert_eq!(judge(1, true), Privacy::Shared { members: 1 });
        assert_eq!(judge(2, false), Privacy::Unencrypted);
        assert_eq!(judge(5, false), Privacy::Unencrypted);
        assert!(refusal(Privacy::Private).is_none());
        assert!(
            refusal(Privacy::Shared { members: 3 })
                .unwrap()
                .contains("3 people")
        );
        assert!(refusal(Privacy::Unencrypted).unwrap().contains("encrypted"));
    }
}
