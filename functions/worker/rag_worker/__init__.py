"""The worker Lambda: SQS batches of job messages."""
