"""Queue admission end to end, in one process at a time (the dispatcher's lease): free capacity
granted to queued runs (fairness, max_parallel, pauses), the workflows of waiting runs started,
runs whose workflows closed unrecorded settled, and position events. Its SQL is in `store/`;
the API only wakes it (`Dispatcher.wake`)."""
