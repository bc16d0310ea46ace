"""The question options ``ragcore ask`` and ``ragcore chat`` share: ``--document-id`` adds to
``--filter``, and both commands refuse a filter that is not a JSON object alike."""

from __future__ import annotations

import argparse

import pytest

from ragcore.cli.options import add_api_option, add_question_options, filter_of


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ragcore", exit_on_error=False)
    add_question_options(parser, "seconds")
    add_api_option(parser)
    return parser.parse_args(argv)


def test_document_ids_are_added_to_the_filters_own() -> None:
    args = parse("--filter", '{"document_ids": ["a"], "metadata": {"year": {"gte": 2000}}}',
                 "--document-id", "b", "--document-id", "c")
    assert filter_of(args) == {"document_ids": ["a", "b", "c"], "metadata": {"year": {"gte": 2000}}}
    assert filter_of(parse("--document-id", "b")) == {"document_ids": ["b"]}
    assert filter_of(parse()) is None


@pytest.mark.parametrize("text", ["5", "[]", '"x"', "{nope"])
def test_a_filter_that_is_not_a_json_object_is_refused_before_it_is_sent(text: str) -> None:
    with pytest.raises(argparse.ArgumentError, match="--filter"):
        parse("--filter", text)


@pytest.mark.parametrize("command", [["ask", "q"], ["chat"]])
def test_ask_and_chat_refuse_a_bad_filter_alike(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from ragcore.cli.commands import main

    with pytest.raises(SystemExit) as exited:
        main([*command, "--filter", "[1]"])
    assert exited.value.code == 2 and "--filter: takes a JSON object" in capsys.readouterr().err
