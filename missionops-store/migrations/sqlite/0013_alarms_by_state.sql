-- Alarms of one state (issue 13): the clock tick asks for every SHELVED alarm of each tenant
-- on every tick, to end the shelvings that ran out. Without this index that query walked all
-- of the tenant's alarms (alarms_by_opening), and after a fleet-wide outage there are a hundred
-- thousand of them, nearly all unshelved. Led by tenant and state, the query reads only the
-- alarms of the state it asks for; the console's and the API's state filters use it too.
CREATE INDEX alarms_by_state ON alarms (tenant, state, opened_at);
