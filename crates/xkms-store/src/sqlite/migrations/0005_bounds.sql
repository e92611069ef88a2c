-- Bounded costs (issue 10): brute-force lockouts, store-issued CRL numbers, counted
-- pending jobs.

-- Failed authentications per subject: an identity ("id:…"), a binding's revocation code
-- ("binding:…"), a client address ("ip:…"). Times in microseconds since the epoch.
CREATE TABLE auth_failures (
    subject      TEXT    PRIMARY KEY NOT NULL,
    failures     INTEGER NOT NULL CHECK (failures >= 0),
    last_failure INTEGER NOT NULL,
    locked_until INTEGER
);
CREATE INDEX auth_failures_locked ON auth_failures (locked_until);

-- The last CRL number handed out: every node takes the next one from here.
CREATE TABLE crl_number (
    id     INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    number INTEGER NOT NULL CHECK (number >= 0)
);
INSERT INTO crl_number (id, number) VALUES (1, 0);

-- Open jobs are counted per requester (caps) without a scan.
CREATE INDEX pending_requests_requester_state ON pending_requests (requester, state);
