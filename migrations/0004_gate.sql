-- The decision gate and feedback: how long the gate took (draft and search included), and
-- whether the tag reactions were already offered under a 👎'd reply (offered once).
ALTER TABLE experience ADD COLUMN gate_ms INTEGER;
ALTER TABLE experience ADD COLUMN tags_offered_at TIMESTAMPTZ;
CREATE INDEX experience_reply ON experience(user_id, room_id, created_at DESC);
CREATE INDEX behaviour_profile_latest ON behaviour_profile(user_id, version DESC);
