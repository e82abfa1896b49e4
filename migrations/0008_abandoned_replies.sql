-- A message that failed to be answered for a reason retrying cannot fix (the model refused
-- it twice) ends `abandoned`: the user was told once, and the retry queue moves past it.
ALTER TABLE messages DROP CONSTRAINT messages_reply_state_check;
ALTER TABLE messages ADD CONSTRAINT messages_reply_state_check
    CHECK (reply_state IN ('received', 'answering', 'answered', 'failed', 'abandoned', 'none'));
