-- The client's x-request-id is kept beside the row, never as its key: requests that reuse one (or send
-- the same one on purpose, as retries do) each keep their own row, under an id the gateway makes.
ALTER TABLE requests ADD COLUMN client_request_id TEXT;
CREATE INDEX requests_client_request_id ON requests (client_request_id);
