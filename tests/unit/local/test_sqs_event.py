from ragcore.local.sqs_poller import succeeded_records, to_sqs_event
from tests.support.paths import load_event

MESSAGES = [
    {"MessageId": "m1", "ReceiptHandle": "r1", "Body": "{}", "Attributes": {"ApproximateReceiveCount": "1"}},
    {"MessageId": "m2", "ReceiptHandle": "r2", "Body": "{}"},
]


def test_records_have_the_fields_of_the_sample_event() -> None:
    event = to_sqs_event(MESSAGES, "arn:aws:sqs:us-east-1:000000000000:q", "us-east-1")
    sample = load_event("sqs_batch.json")["Records"][0]
    assert [set(r) for r in event["Records"]] == [set(sample)] * 2
    assert event["Records"][0]["receiptHandle"] == "r1"


def test_only_records_not_reported_as_failures_succeed() -> None:
    event = to_sqs_event(MESSAGES, "arn", "us-east-1")
    assert [r["messageId"] for r in succeeded_records(event, {"batchItemFailures": [{"itemIdentifier": "m2"}]})] == ["m1"]
    assert len(succeeded_records(event, {"batchItemFailures": []})) == 2
    assert len(succeeded_records(event, None)) == 2
