-- A message whose content the user had forgotten (`!forget`): its body is scrubbed, it is
-- done for the night, and no prompt or night reads it again.
ALTER TABLE messages ADD COLUMN forgotten_at TIMESTAMPTZ;
