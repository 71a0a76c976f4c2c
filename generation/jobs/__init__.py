"""The job table's logic: enqueue, claim, lease, workers, notify, job photos,
retention and metrics."""
