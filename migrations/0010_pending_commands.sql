-- Commands wait for their run as messages wait for their answer ('received' until done), so
-- a command a crash caught is run at start-up instead of never. Commands logged before this
-- migration keep 'none': they ran, or were lost long ago, and are not run now.
ALTER TABLE messages ADD COLUMN is_command BOOLEAN NOT NULL DEFAULT false;
UPDATE messages SET is_command = true WHERE role = 'user' AND reply_state = 'none';
-- When the message was last claimed: a claim older than any answer takes is stale (its task
-- died) and goes back in the queue without waiting for a restart.
ALTER TABLE messages ADD COLUMN claimed_at TIMESTAMPTZ;
-- Which reply the answer is: it grows when an interrupted reply is left as it is and the
-- retry answers in a new message. With the message's event id it makes the transaction id
-- of the reply's first message, so a send the homeserver took but the bot never noted (a
-- crash in between) is recognised on the retry instead of posted twice.
ALTER TABLE messages ADD COLUMN reply_round INT NOT NULL DEFAULT 0;
