"""The queue's intake and admission. Intake: new runs and their workflow input, written by
the group commit, each announced (`queued` event, the dispatcher's bell). Admission, in one
process at a time (the dispatcher's lease): free capacity granted to queued runs (fairness,
max_parallel, pauses), the workflows of waiting runs started, runs whose workflows closed
unrecorded settled, and position events. Its SQL is in `store/`; the API only queues through
the group commit and wakes the dispatcher."""
