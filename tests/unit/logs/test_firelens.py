"""FireLens: Fluent Bit configuration parsing, the filters (tables from docs.fluentbit.io), Match,
ECS metadata, the outputs ECS generates from container options, refusals, and the whole router fed
through the seed's extra.conf to a fake CloudWatch deliverer and a real file."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.logs.firelens import (
    FireLensConfigError,
    Pipeline,
    Section,
    TagMatch,
    build_filter,
    build_pipeline,
    firelens_tag,
    fluent_regex,
    parse_fluent_bit_config,
    parse_template,
    split_quoted,
    translate,
)
from ecsbox.logs.firelens_outputs import (
    OutputFactory,
    Router,
    build_router,
    date_value,
    http_body,
    out_file_line,
)
from ecsbox.logs.model import group_not_found

SEED = Path("/work/shared/seed")
SEED_EXTRA_CONF = (SEED / "firelens.extra.conf").read_text()
SEED_LOG_OPTIONS = json.loads((SEED / "firelens.log-configuration.json").read_text())["logConfiguration"][
    "options"
]

TASK_ID = "8f2c4a1e9b7d4c3f"
TASK_ARN = f"arn:aws:ecs:eu-west-1:111122223333:task/prod/{TASK_ID}"
METADATA = {"ecs_cluster": "prod", "ecs_task_arn": TASK_ARN, "ecs_task_definition": "web:7"}
CONTAINER_ID = "c" * 64
APP_TAG = firelens_tag("app", TASK_ID)


def docker_record(line: str, source: str = "stdout", name: str = "/app") -> dict[str, Any]:
    return {"container_id": CONTAINER_ID, "container_name": name, "source": source, "log": line}


def filter_of(text: str, env: dict[str, str] | None = None) -> Pipeline:
    """A pipeline holding only the FILTER sections of ``text`` and a catch-all stdout output."""
    config = parse_fluent_bit_config(text + "\n[OUTPUT]\n    Name stdout\n    Match *\n", env=env)
    return build_pipeline({}, {"enable-ecs-log-metadata": "false"}, config, {})


def run(
    pipeline: Pipeline, records: Sequence[dict[str, Any]], tag: str = "mem.local"
) -> list[dict[str, Any]]:
    return [e.record for e in pipeline.process(tag, [(1.0, r) for r in records])]


class FakeDeliver:
    def __init__(self, refuse: Exception | None = None) -> None:
        self.calls: list[tuple[str, str, str, list[tuple[int, str]], bool]] = []
        self.refuse = refuse

    async def __call__(
        self, region: str, group: str, stream: str, events: Sequence[tuple[int, str]], create_group: bool
    ) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.calls.append((region, group, stream, list(events), create_group))


# --- Parsing ---------------------------------------------------------------------------------------


def test_the_seed_extra_conf_parses_into_its_three_sections() -> None:
    config = parse_fluent_bit_config(SEED_EXTRA_CONF)
    assert [(s.name, s.plugin, s.line) for s in config.sections] == [
        ("INPUT", "forward", 1),
        ("FILTER", "record_modifier", 6),
        ("OUTPUT", "firehose", 11),
    ]
    assert config.of("filter")[0].entries == (
        ("Name", "record_modifier"),
        ("Match", "*"),
        ("Record", "environment production"),
    )
    output = config.of("OUTPUT")[0]
    assert output.get("MATCH") == "app-firelens*"
    assert output.get("delivery_stream") == "app-stream"
    assert output.get("Region") == "ap-northeast-1"


def test_comments_blank_lines_tabs_repeated_and_unknown_keys_and_sections_are_kept() -> None:
    config = parse_fluent_bit_config(
        "# a comment\n\n[SERVICE]\n    Flush 1\n    # an indented comment\n[filter]\n\tname\tgrep\n"
        "    Regex log a # not a comment\n    Regex log b\n    Unknown_Key  spaced   value\n"
        "[MULTILINE_PARSER]\n    name multiline-regex\r\n"
    )
    assert [s.name for s in config.sections] == ["SERVICE", "FILTER", "MULTILINE_PARSER"]
    grep = config.of("FILTER")[0]
    assert grep.plugin == "grep"
    assert grep.get_all("regex") == ["log a # not a comment", "log b"]
    assert grep.get("unknown_key") == "spaced   value"
    assert config.of("MULTILINE_PARSER")[0].get("name") == "multiline-regex"


def test_include_is_resolved_through_the_callable_in_place_and_nested() -> None:
    files = {
        "/fluent-bit/etc/filters.conf": "[FILTER]\n    Name grep\n    Match *\n    Regex log x\n@INCLUDE more.conf\n",
        "more.conf": "[OUTPUT]\n    Name null\n    Match *\n",
    }
    config = parse_fluent_bit_config(
        "[SERVICE]\n    Flush 1\n@INCLUDE /fluent-bit/etc/filters.conf\n[OUTPUT]\n    Name stdout\n    Match *\n",
        include=files.__getitem__,
    )
    assert [(s.name, s.plugin, s.source) for s in config.sections] == [
        ("SERVICE", "", "<config>"),
        ("FILTER", "grep", "/fluent-bit/etc/filters.conf"),
        ("OUTPUT", "null", "more.conf"),
        ("OUTPUT", "stdout", "<config>"),
    ]


def test_set_variables_then_env_then_empty_fill_placeholders() -> None:
    config = parse_fluent_bit_config(
        "@SET group=/ecs/app\n[OUTPUT]\n    Name cloudwatch_logs\n    log_group_name ${group}\n"
        "    region ${AWS_REGION}\n    log_stream_prefix ${UNSET}x\n",
        env={"AWS_REGION": "eu-west-1", "group": "not-this"},
    )
    output = config.of("OUTPUT")[0]
    assert (output.get("log_group_name"), output.get("region"), output.get("log_stream_prefix")) == (
        "/ecs/app",
        "eu-west-1",
        "x",
    )
    assert config.variables == {"group": "/ecs/app"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("    Name grep\n", "<config>:1: 'Name grep' is outside of any [SECTION]"),
        ("[FILTER]\nName grep\n", "<config>:2: invalid indentation level"),
        ("[FILTER]\n    Name\n", "<config>:2: key 'Name' has no value"),
        ("[FILTER\n    Name grep\n", "<config>:1: invalid section header '[FILTER'"),
        ("[]\n", "<config>:1: invalid section header"),
        ("@IMPORT x.conf\n", "<config>:1: unknown directive @IMPORT"),
        ("@SET novalue\n", "<config>:1: @SET expects NAME=VALUE"),
        ("@INCLUDE extra.conf\n", "<config>:1: @INCLUDE extra.conf: no file can be included here"),
    ],
)
def test_malformed_configurations_are_refused_with_where_and_why(text: str, message: str) -> None:
    with pytest.raises(FireLensConfigError) as refused:
        parse_fluent_bit_config(text)
    assert str(refused.value).startswith(message)


def test_a_missing_or_self_including_file_is_refused() -> None:
    def include(path: str) -> str:
        if path == "loop.conf":
            return "@INCLUDE loop.conf\n"
        raise FileNotFoundError(f"no {path} in the image")

    with pytest.raises(FireLensConfigError) as missing:
        parse_fluent_bit_config("# x\n@INCLUDE gone.conf\n", include=include)
    assert str(missing.value) == "<config>:2: @INCLUDE gone.conf: no gone.conf in the image"
    with pytest.raises(FireLensConfigError) as looping:
        parse_fluent_bit_config("@INCLUDE loop.conf\n", include=include)
    assert str(looping.value) == "loop.conf:1: @INCLUDE loop.conf: includes itself"


# --- Match -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "match_regex", "tag", "expected"),
    [
        ("*", None, "anything.at-all", True),
        ("app-firelens*", None, "app-firelens-8f2c", True),
        ("app-firelens*", None, "app-firelens", True),
        ("app-firelens*", None, "web-firelens-8f2c", False),
        ("app-firelens*", None, "myapp-firelens-8f2c", False),
        ("app", None, "app-firelens-8f2c", False),  # the whole tag
        ("*-firelens-*", None, "web-firelens-8f2c", True),
        ("kube.*.log", None, "kube.pod.a.log", True),
        ("APP*", None, "app-firelens-1", False),  # case-sensitive
        ("a?c", None, "abc", False),  # only * is special
        ("a.c", None, "abc", False),
        (None, "^app-", "app-firelens-1", True),
        (None, "firelens", "app-firelens-1", False),  # anchored at the tag's start
        (None, "(app|web)-firelens-.*", "web-firelens-1", True),
        (None, ".*", "", False),  # an empty match is no match
        (None, None, "app-firelens-1", False),  # no Match: takes nothing
        ("web*", "^app", "app-firelens-1", True),  # either
    ],
)
def test_match_and_match_regex_follow_fluent_bits_router(
    match: str | None, match_regex: str | None, tag: str, expected: bool
) -> None:
    assert TagMatch(match, match_regex)(tag) is expected


@given(st.text(alphabet="abc.-_*?[", min_size=1, max_size=12), st.data())
def test_a_pattern_made_by_starring_parts_of_a_tag_matches_that_tag(tag: str, data: st.DataObject) -> None:
    tag = tag.replace("*", "x")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(tag)), max_size=4)))
    pattern, position = "", 0
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        pattern += tag[position:start] + "*"
        position = end
    pattern += tag[position:]
    assert TagMatch(pattern)(tag)


# --- grep ------------------------------------------------------------------------------------------

GREP_LINES = ["aaa", "aab", "bbb", "ccc", "ddd", "eee", "fff", "ggg"]


@pytest.mark.parametrize(
    ("rules", "kept"),
    [
        (["Regex log aa"], ["aaa", "aab"]),  # docs: "only passes records with a field value starting with aa"
        (["Exclude log aa"], ["bbb", "ccc", "ddd", "eee", "fff", "ggg"]),
        (["Regex log ^a", "Regex log b$"], ["aaa", "aab"]),  # legacy: a matching Regex keeps at once
        (["Exclude log ^b", "Exclude log ^c", "Regex log [a-d]"], ["aaa", "aab", "ddd"]),
        (["Logical_Op or", "Regex log ^b", "Regex log ^g"], ["bbb", "ggg"]),
        (["Logical_Op AND", "Regex log ^a", "Regex log b$"], ["aab"]),
        (["Logical_Op or", "Exclude log a", "Exclude log g"], ["bbb", "ccc", "ddd", "eee", "fff"]),
        (
            ["Logical_Op and", "Exclude log a", "Exclude log b"],
            ["aaa", "bbb", "ccc", "ddd", "eee", "fff", "ggg"],
        ),
        (["Regex log /^A/i"], ["aaa", "aab"]),
    ],
)
def test_grep_rules_from_the_documentation(rules: list[str], kept: list[str]) -> None:
    pipeline = filter_of("[FILTER]\n    Name grep\n    Match *\n" + "".join(f"    {r}\n" for r in rules))
    assert [r["log"] for r in run(pipeline, [{"log": line} for line in GREP_LINES])] == kept


def test_grep_or_keeps_the_docs_dummy_record_and_and_drops_it() -> None:
    record = {"endpoint": "localhost", "value": "something"}
    either = filter_of(
        "[FILTER]\n    Name grep\n    Match *\n    Logical_Op or\n    Regex value something\n    Regex value error\n"
    )
    both = filter_of(
        "[FILTER]\n    Name grep\n    Match *\n    Logical_Op and\n    Regex value something\n    Regex value error\n"
    )
    assert run(either, [record]) == [record]
    assert run(both, [record]) == []


def test_grep_on_nested_missing_and_non_string_values() -> None:
    kubernetes = {"log": "something", "kubernetes": {"labels": {"app": "myapp"}, "pod_name": "myapp-0"}}
    other = {"log": "something", "kubernetes": {"labels": {"app": "other"}}}
    nested = filter_of(
        "[FILTER]\n    Name grep\n    Match *\n    Exclude $kubernetes['labels']['app'] myapp\n"
    )
    assert run(nested, [kubernetes, other]) == [other]
    valid = filter_of("[FILTER]\n    Name grep\n    Match *\n    Regex iot_timestamp ^\\d{4}-\\d{2}-\\d{2}\n")
    records: list[dict[str, Any]] = [
        {"iot_timestamp": "2024-05-01T00:00:00"},
        {"other": 1},
        {"iot_timestamp": ""},
        {"iot_timestamp": 20240501},
    ]
    assert run(valid, records) == [records[0]]  # missing, empty and non-string values fail a Regex
    excluded = filter_of("[FILTER]\n    Name grep\n    Match *\n    Exclude status ^5\n")
    assert run(excluded, [{"status": "503"}, {"log": "no status"}]) == [{"log": "no status"}]


def test_grep_refuses_mixed_rules_with_a_logical_op_and_a_rule_without_regex() -> None:
    with pytest.raises(FireLensConfigError, match="Both 'regex' and 'exclude' are set"):
        filter_of(
            "[FILTER]\n    Name grep\n    Match *\n    Logical_Op or\n    Regex log a\n    Exclude log b\n"
        )
    with pytest.raises(FireLensConfigError, match="Regex expects KEY REGEX"):
        filter_of("[FILTER]\n    Name grep\n    Match *\n    Regex log\n")
    with pytest.raises(FireLensConfigError, match="invalid regular expression '\\(unclosed'"):
        filter_of("[FILTER]\n    Name grep\n    Match *\n    Regex log (unclosed\n")


# --- record_modifier -------------------------------------------------------------------------------

MEM = {
    "Mem.total": 1016024,
    "Mem.used": 716672,
    "Mem.free": 299352,
    "Swap.total": 2064380,
    "Swap.used": 32656,
    "Swap.free": 2031724,
}


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (
            ["Record hostname ${HOSTNAME}", "Record product Awesome_Tool"],
            {**MEM, "hostname": "localhost.localdomain", "product": "Awesome_Tool"},
        ),
        (
            ["Remove_key Swap.total", "Remove_key Swap.used", "Remove_key Swap.free"],
            {"Mem.total": 1016024, "Mem.used": 716672, "Mem.free": 299352},
        ),
        (
            ["Allowlist_key Mem.total", "Allowlist_key Mem.used", "Allowlist_key Mem.free"],
            {"Mem.total": 1016024, "Mem.used": 716672, "Mem.free": 299352},
        ),
        (["Whitelist_key mem.*"], {"Mem.total": 1016024, "Mem.used": 716672, "Mem.free": 299352}),
        (
            ["Remove_key Mem*", "Record Mem.total replaced"],
            {**{k: v for k, v in MEM.items() if k.startswith("Swap")}, "Mem.total": "replaced"},
        ),
        (["Record note a value with spaces"], {**MEM, "note": "a value with spaces"}),
    ],
)
def test_record_modifier_from_the_documentation(entries: list[str], expected: dict[str, Any]) -> None:
    pipeline = filter_of(
        "[FILTER]\n    Name record_modifier\n    Match *\n" + "".join(f"    {e}\n" for e in entries),
        env={"HOSTNAME": "localhost.localdomain"},
    )
    [record] = run(pipeline, [MEM])
    assert list(record.items()) == list(expected.items())


def test_record_modifier_uuid_key_and_exclusive_lists() -> None:
    [record] = run(
        filter_of("[FILTER]\n    Name record_modifier\n    Match *\n    Uuid_key id\n"), [{"log": "x"}]
    )
    assert len(record["id"]) == 36 and record["id"].count("-") == 4
    with pytest.raises(FireLensConfigError, match="remove_key and allowlist_key are exclusive"):
        filter_of("[FILTER]\n    Name record_modifier\n    Match *\n    Remove_key a\n    Allowlist_key b\n")


@given(
    st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=5), max_size=6),
    st.text(min_size=1, max_size=5),
)
def test_record_modifier_never_keeps_a_removed_key_and_always_appends_its_records(
    record: dict[str, str], removed: str
) -> None:
    section = Section(
        "FILTER",
        (("Name", "record_modifier"), ("Match", "*"), ("Remove_key", removed), ("Record", "added yes")),
    )
    changed = build_filter(section, []).apply("t", dict(record))
    assert changed is not None
    assert all(key.lower() != removed.lower() for key in changed if key != "added")
    assert list(changed.items())[-1] == ("added", "yes")


# --- modify ----------------------------------------------------------------------------------------

MEM_LOCAL = {
    "Mem.total": 4050908,
    "Mem.used": 738100,
    "Mem.free": 3312808,
    "Swap.total": 1046524,
    "Swap.used": 0,
    "Swap.free": 1046524,
}


def modify(entries: Sequence[str], record: dict[str, Any]) -> dict[str, Any]:
    [changed] = run(
        filter_of("[FILTER]\n    Name modify\n    Match *\n" + "".join(f"    {e}\n" for e in entries)),
        [record],
    )
    return changed


def test_modify_example_usage_rename_and_add() -> None:
    assert modify(
        ["Rename Key2 RenamedKey", "Add OtherKey Value3"], {"Key1": "Value1", "Key2": "Value2"}
    ) == {
        "Key1": "Value1",
        "RenamedKey": "Value2",
        "OtherKey": "Value3",
    }


def test_modify_example_1_add_and_rename_keeps_the_documented_order() -> None:
    rules = [
        "Add Service1 SOMEVALUE",
        "Add Service3 SOMEVALUE3",
        "Add Mem.total2 TOTALMEM2",
        "Rename Mem.free MEMFREE",
        "Rename Mem.used MEMUSED",
        "Rename Swap.total SWAPTOTAL",
        "Add Mem.total TOTALMEM",
    ]
    assert list(modify(rules, MEM_LOCAL).items()) == [
        ("Mem.total", 4050908),
        ("MEMUSED", 738100),
        ("MEMFREE", 3312808),
        ("SWAPTOTAL", 1046524),
        ("Swap.used", 0),
        ("Swap.free", 1046524),
        ("Service1", "SOMEVALUE"),
        ("Service3", "SOMEVALUE3"),
        ("Mem.total2", "TOTALMEM2"),
    ]


def test_modify_example_2_conditionally_add_and_remove() -> None:
    config = """
[FILTER]
    Name    modify
    Match   mem.*

    Condition Key_Does_Not_Exist cpustats
    Condition Key_Exists Mem.used

    Set cpustats UNKNOWN

[FILTER]
    Name    modify
    Match   mem.*

    Condition Key_Value_Does_Not_Equal cpustats KNOWN

    Add sourcetype memstats

[FILTER]
    Name    modify
    Match   mem.*

    Condition Key_Value_Equals cpustats UNKNOWN

    Remove_wildcard Mem
    Remove_wildcard Swap
    Add cpustats_more STILL_UNKNOWN
"""
    assert run(filter_of(config), [MEM_LOCAL]) == [
        {"cpustats": "UNKNOWN", "sourcetype": "memstats", "cpustats_more": "STILL_UNKNOWN"}
    ]
    assert run(filter_of(config), [MEM_LOCAL], tag="cpu.local") == [MEM_LOCAL]  # Match mem.*


def test_modify_example_3_emoji() -> None:
    rules = [
        "Remove_Wildcard Mem",
        "Remove_Wildcard Swap",
        "Set This_plugin_is_on 🔥",
        "Set 🔥 is_hot",
        "Copy 🔥 💦",
        "Rename  💦 ❄️",
        "Set ❄️ is_cold",
        "Set 💦 is_wet",
    ]
    assert list(modify(rules, MEM_LOCAL).items()) == [
        ("This_plugin_is_on", "🔥"),
        ("🔥", "is_hot"),
        ("❄️", "is_cold"),
        ("💦", "is_wet"),
    ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("Set a new", {"b": "2", "c": "3", "a": "new"}),  # overwritten, moved to the end
        ("Set z new", {"a": "1", "b": "2", "c": "3", "z": "new"}),
        ("Add a new", {"a": "1", "b": "2", "c": "3"}),
        ("Remove b", {"a": "1", "c": "3"}),
        ("Remove_regex ^[ab]$", {"c": "3"}),
        ("Remove_wildcard *", {}),
        ("Rename a c", {"a": "1", "b": "2", "c": "3"}),  # the target exists: untouched
        ("Rename a z", {"z": "1", "b": "2", "c": "3"}),
        ("Hard_rename a c", {"c": "1", "b": "2"}),
        ("Copy a c", {"a": "1", "b": "2", "c": "3"}),
        ("Copy a z", {"a": "1", "z": "1", "b": "2", "c": "3"}),
        ("Hard_copy a c", {"a": "1", "c": "1", "b": "2"}),
        ("Rename missing z", {"a": "1", "b": "2", "c": "3"}),
        ("Move_to_start c", {"c": "3", "a": "1", "b": "2"}),
        ("Move_to_end a", {"b": "2", "c": "3", "a": "1"}),
        ('Set msg "hello world"', {"a": "1", "b": "2", "c": "3", "msg": "hello world"}),
    ],
)
def test_modify_rules(rule: str, expected: dict[str, str]) -> None:
    assert list(modify([rule], {"a": "1", "b": "2", "c": "3"}).items()) == list(expected.items())


@pytest.mark.parametrize(
    ("condition", "applies"),
    [
        ("Key_exists level", True),
        ("Key_exists $http['status']", True),
        ("Key_does_not_exist level", False),
        ("A_key_matches ^lev", True),
        ("No_key_matches ^lev", False),
        ("Key_value_equals level error", True),
        ("Key_value_equals level ERROR", False),
        ("Key_value_does_not_equal level info", True),
        ("Key_value_does_not_equal missing info", True),  # the negation of Key_value_equals
        ("Key_value_matches level ^err", True),
        ("Key_value_matches count ^4", False),  # not a string
        ("Key_value_does_not_match level ^err", False),
        ("Matching_keys_have_matching_values ^lev ^e", True),
        ("Matching_keys_do_not_have_matching_values ^lev ^e", False),
    ],
)
def test_modify_conditions(condition: str, applies: bool) -> None:
    record = {"level": "error", "count": 42, "http": {"status": "500"}}
    changed = modify([f"Condition {condition}", "Add touched yes"], record)
    assert ("touched" in changed) is applies


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("Explode a", "invalid operation Explode a"),
        ("Set onlykey", "Set expects KEY VALUE"),
        ("Set msg hello world", "quote a value that holds spaces"),
        ("Remove a b", "Remove expects KEY"),
        ("Condition Key_exists", "invalid Condition"),
        ("Condition Key_is_nice a", "invalid Condition"),
    ],
)
def test_modify_refuses_what_fluent_bit_refuses(entry: str, message: str) -> None:
    with pytest.raises(FireLensConfigError, match=message):
        filter_of(f"[FILTER]\n    Name modify\n    Match *\n    {entry}\n")


# --- rewrite_tag -----------------------------------------------------------------------------------


def test_rewrite_tag_configuration_example() -> None:
    config = parse_fluent_bit_config(
        "[FILTER]\n  Name          rewrite_tag\n  Match         test_tag\n"
        "  Rule          $tool ^(fluent)$  from.$TAG.new.$tool.$sub['s1']['s2'].out false\n"
        "  Emitter_Name  re_emitted\n\n[OUTPUT]\n  Name   stdout\n  Match  from.*\n"
    )
    pipeline = build_pipeline({}, {"enable-ecs-log-metadata": "false"}, config, {})
    record = {"tool": "fluent", "sub": {"s1": {"s2": "bit"}}}
    assert [(e.tag, e.record) for e in pipeline.process("test_tag", [(1.0, record)])] == [
        ("from.test_tag.new.fluent.bit.out", record)
    ]


def test_rewrite_tag_new_tag_placeholders_from_the_documentation() -> None:
    config = parse_fluent_bit_config(
        "[FILTER]\n    Name rewrite_tag\n    Match aa.*\n"
        "    Rule $name ^([a-z]+)-([0-9]+)$ newtag.$TAG.$TAG[1].$1.$ss['s1']['s2'].out.${HOSTNAME} false\n"
        "[OUTPUT]\n    Name null\n    Match newtag.*\n",
        env={"HOSTNAME": "fluent"},
    )
    pipeline = build_pipeline({}, {"enable-ecs-log-metadata": "false"}, config, {})
    record = {"name": "abc-123", "ss": {"s1": {"s2": "flb"}}}
    assert [e.tag for e in pipeline.process("aa.bb.cc", [(1.0, record)])] == [
        "newtag.aa.bb.cc.bb.abc.flb.out.fluent"
    ]


def test_rewrite_tag_keep_re_entry_and_loops() -> None:
    config = parse_fluent_bit_config(
        "[FILTER]\n    Name rewrite_tag\n    Match app-firelens*\n    Rule $log ^ERROR errors.$TAG true\n"
        "[FILTER]\n    Name modify\n    Match errors.*\n    Set routed yes\n"
        "[OUTPUT]\n    Name null\n    Match *\n"
    )
    pipeline = build_pipeline({}, {}, config, METADATA)
    emitted = pipeline.process(APP_TAG, [(1.0, docker_record("ERROR boom")), (2.0, docker_record("fine"))])
    assert [(e.tag, e.record["log"], e.record.get("routed"), e.record["ecs_cluster"]) for e in emitted] == [
        (APP_TAG, "ERROR boom", None, "prod"),  # kept (KEEP true)
        (APP_TAG, "fine", None, "prod"),
        # re-emitted after the chunk, through every filter again
        (f"errors.{APP_TAG}", "ERROR boom", "yes", "prod"),
    ]
    null_output = "[OUTPUT]\n    Name null\n    Match *\n"
    looping = parse_fluent_bit_config(
        "[FILTER]\n    Name rewrite_tag\n    Match *\n    Rule $log . again.$TAG false\n" + null_output
    )
    assert build_pipeline({}, {}, looping, {}).process("t", [(1.0, {"log": "x"})]) == []  # recursion: dropped
    unbounded = parse_fluent_bit_config(
        "[FILTER]\n    Name rewrite_tag\n    Match *\n    Recursion_action none\n    Rule $log . a.$TAG true\n"
        + null_output
    )
    tags = [e.tag for e in build_pipeline({}, {}, unbounded, {}).process("t", [(1.0, {"log": "x"})])]
    assert tags[0] == "t" and tags[-1] == "a." * 8 + "t" and len(tags) == 9  # stopped at the depth guard


def test_rewrite_tag_refuses_a_rule_without_four_parts() -> None:
    with pytest.raises(FireLensConfigError, match="Rule expects \\$KEY REGEX NEW_TAG KEEP"):
        filter_of("[FILTER]\n    Name rewrite_tag\n    Match *\n    Rule $log ^a new\n")


@pytest.mark.parametrize(
    ("template", "tag", "expected"),
    [
        ("$TAG", "a.b.c", ("a.b.c", True)),
        ("x.$TAG[0].$TAG[2].$TAG[5]", "a.b.c", ("x.a.c.", True)),
        ("$TAG[0]", "app-firelens-1", ("app-firelens-1", True)),
        ("$level.$count.$flag.$nothing.$map", "t", ('warn.3.true..{"k":"v"}', False)),
        ("/ecs/$kubernetes['pod']", "t", ("/ecs/p-1", True)),
    ],
)
def test_record_accessor_templates(template: str, tag: str, expected: tuple[str, bool]) -> None:
    record = {"level": "warn", "count": 3, "flag": True, "map": {"k": "v"}, "kubernetes": {"pod": "p-1"}}
    assert translate(parse_template(template), tag, record) == expected


def test_split_quoted_and_onigmo_syntax() -> None:
    assert split_quoted('$log "^(a b)$" new.tag  false', 4) == ["$log", "^(a b)$", "new.tag", "false"]
    assert split_quoted("a b c d e", 3) == ["a", "b", "c d e"]
    assert fluent_regex(r"(?<level>\w+):\h+\z").search("warn:ff").groupdict() == {"level": "warn"}  # type: ignore[union-attr]


# --- ECS's generated part --------------------------------------------------------------------------


def test_every_record_gets_the_ecs_metadata_and_keeps_the_drivers_fields() -> None:
    pipeline = build_pipeline({"app": {"Name": "null"}}, {}, None, {**METADATA, "ec2_instance_id": "i-0abc"})
    [emission] = pipeline.process(APP_TAG, [(1.0, docker_record("hello", "stderr"))])
    assert emission.record == {
        "container_id": CONTAINER_ID,
        "container_name": "/app",
        "source": "stderr",
        "log": "hello",
        "ecs_cluster": "prod",
        "ecs_task_arn": TASK_ARN,
        "ecs_task_definition": "web:7",
        "ec2_instance_id": "i-0abc",
    }


@pytest.mark.parametrize("value", ["false", "FALSE", " False "])
def test_enable_ecs_log_metadata_false_leaves_the_records_as_docker_sent_them(value: str) -> None:
    pipeline = build_pipeline({"app": {"Name": "null"}}, {"enable-ecs-log-metadata": value}, None, METADATA)
    assert [e.record for e in pipeline.process(APP_TAG, [(1.0, docker_record("x"))])] == [docker_record("x")]


def test_each_containers_options_become_one_output_and_its_patterns_grep_filters() -> None:
    options = {
        "app": {
            "Name": "cloudwatch_logs",
            "region": "eu-west-1",
            "log_group_name": "/ecs/app",
            "log_stream_prefix": "fb-",
            "include-pattern": "^(INFO|ERROR)",
            "exclude-pattern": "healthz",
            "log-driver-buffer-limit": "2097152",
            "api_key": "${SECRET_0}",
        },
        "web": {"Name": "file", "Path": "/logs"},
        "sidecar": {},  # no Name, no options: the extra configuration routes it
    }
    pipeline = build_pipeline(options, {}, None, METADATA, env={"SECRET_0": "s3cr3t"})
    assert [(o.plugin, o.match.match, o.options, o.origin) for o in pipeline.outputs] == [
        (
            "cloudwatch_logs",
            "app-firelens*",
            (
                ("region", "eu-west-1"),
                ("log_group_name", "/ecs/app"),
                ("log_stream_prefix", "fb-"),
                ("api_key", "s3cr3t"),
            ),
            "container app",
        ),
        ("file", "web-firelens*", (("Path", "/logs"),), "container web"),
    ]
    lines = ["INFO up", "DEBUG noise", "ERROR GET /healthz", "ERROR down"]
    app = pipeline.process(APP_TAG, [(1.0, docker_record(line)) for line in lines])
    web = pipeline.process(firelens_tag("web", TASK_ID), [(1.0, docker_record(line)) for line in lines])
    assert [(e.output, e.record["log"]) for e in app] == [(0, "INFO up"), (0, "ERROR down")]
    assert [(e.output, e.record["log"]) for e in web] == [(1, line) for line in lines]  # not app's patterns


def test_options_without_a_name_are_refused_as_the_agent_refuses_them() -> None:
    with pytest.raises(FireLensConfigError, match="container app: missing output key Name"):
        build_pipeline({"app": {"region": "eu-west-1"}}, {}, None, METADATA)


# --- Refusals --------------------------------------------------------------------------------------


def test_the_seeds_outputs_are_refused_not_dropped() -> None:
    with pytest.raises(FireLensConfigError) as refused:
        build_pipeline({"app": {}}, {}, parse_fluent_bit_config(SEED_EXTRA_CONF), METADATA)
    assert str(refused.value) == "output plugin 'firehose' is not available in ecsbox yet"
    with pytest.raises(FireLensConfigError) as refused:
        build_pipeline({"app": dict(SEED_LOG_OPTIONS)}, {}, None, METADATA)
    assert str(refused.value) == "output plugin 'kinesis_firehose' is not available in ecsbox yet"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("[OUTPUT]\n    Name s3\n    Match *\n", "output plugin 's3' is not available in ecsbox yet"),
        (
            "[OUTPUT]\n    Name Datadog\n    Match *\n",
            "output plugin 'Datadog' is not available in ecsbox yet",
        ),
        (
            "[FILTER]\n    Name parser\n    Match *\n    Key_Name log\n",
            "filter plugin 'parser' is not available in ecsbox yet",
        ),
        ("[FILTER]\n    Match *\n", "a FILTER needs a Name"),
        ("[INPUT]\n    Name tail\n    Path /var/log/*.log\n", "input plugin 'tail'"),
        (
            "[OUTPUT]\n    Name cloudwatch_logs\n    Match *\n    log_group_name g\n    log_stream_name s\n",
            "'region' is a required field",
        ),
        (
            "[OUTPUT]\n    Name cloudwatch_logs\n    Match *\n    region r\n    log_group_name g\n",
            "exactly one of 'log_stream_name' and 'log_stream_prefix'",
        ),
        ("[OUTPUT]\n    Name http\n    Match *\n    Format gelf\n", "Format 'gelf' is not available"),
        ("[OUTPUT]\n    Name file\n    Match *\n    Format csv\n", "Format 'csv' is not available"),
    ],
)
def test_what_ecsbox_cannot_run_is_refused_with_a_reason(section: str, message: str) -> None:
    with pytest.raises(FireLensConfigError, match=message.replace("*", "\\*").replace("(", "\\(")):
        build_pipeline({}, {}, parse_fluent_bit_config(section), METADATA)


def test_forward_and_tcp_inputs_are_accepted_and_a_filter_without_match_is_a_warning() -> None:
    config = parse_fluent_bit_config(
        "[INPUT]\n    Name forward\n[INPUT]\n    Name tcp\n    Port 8877\n[FILTER]\n    Name grep\n    Regex log x\n"
    )
    pipeline = build_pipeline({}, {}, config, METADATA)
    assert pipeline.warnings == ("[FILTER] at <config>:6: no Match or Match_Regex, so it takes no records",)


# --- Outputs ---------------------------------------------------------------------------------------


def route(options: dict[str, str], tmp_path: Path, deliver: FakeDeliver, extra: str | None = None) -> Router:
    config = parse_fluent_bit_config(extra) if extra else None
    factory = OutputFactory(deliver, host_path=lambda path: tmp_path / path.lstrip("/"))
    return build_router({"app": options}, {}, config, dict(METADATA), factory)


def test_cloudwatch_logs_sends_the_record_as_json_to_prefix_plus_tag(tmp_path: Path) -> None:
    deliver = FakeDeliver()
    router = route(
        {
            "Name": "cloudwatch_logs",
            "region": "eu-west-1",
            "log_group_name": "/ecs/app",
            "log_stream_prefix": "fb-",
            "auto_create_group": "On",
        },
        tmp_path,
        deliver,
    )
    asyncio.run(
        router.handle(APP_TAG, [(1700000000.123, docker_record("hello")), (1700000001.0, docker_record(""))])
    )
    [(region, group, stream, events, create)] = deliver.calls
    assert (region, group, stream, create) == ("eu-west-1", "/ecs/app", f"fb-{APP_TAG}", True)
    assert [ts for ts, _ in events] == [1700000000123, 1700000001000]
    assert json.loads(events[0][1]) == {**docker_record("hello"), **METADATA}
    assert events[0][1].startswith('{"container_id":')


def test_cloudwatch_log_key_templates_and_the_go_plugins_names(tmp_path: Path) -> None:
    deliver = FakeDeliver()
    asyncio.run(
        route(
            {
                "Name": "cloudwatch_logs",
                "region": "eu-west-1",
                "log_group_name": "/fallback",
                "log_group_template": "/ecs/$ecs_cluster.$team",
                "log_stream_name": "s",
                "log_key": "log",
            },
            tmp_path,
            deliver,
        ).handle(
            APP_TAG, [(1.0, {**docker_record("with team"), "team": "blue"}), (2.0, docker_record("no team"))]
        )
    )
    assert [(g, s, [m for _, m in e]) for _, g, s, e, _ in deliver.calls] == [
        ("/ecs/prod.blue", "s", ["with team"]),
        ("/fallback", "s", ["no team"]),
    ]
    go = FakeDeliver()
    asyncio.run(
        route(
            {
                "Name": "cloudwatch",
                "region": "us-west-2",
                "log_group_name": "/aws/ecs/containerinsights/$(ecs_cluster)/application",
                "log_stream_name": "$(ecs_task_id)/$(missing)",
                "log_key": "log",
            },
            tmp_path,
            go,
        ).handle(APP_TAG, [(1.0, docker_record("go"))])
    )
    assert go.calls == [
        (
            "us-west-2",
            "/aws/ecs/containerinsights/prod/application",
            "/fluentbit-default",
            [(1000, "go")],
            False,
        )
    ]


def test_cloudwatch_missing_group_is_dropped_and_said_once_but_storage_failures_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = {
        "Name": "cloudwatch_logs",
        "region": "eu-west-1",
        "log_group_name": "/gone",
        "log_stream_name": "s",
    }
    router = route(options, tmp_path, FakeDeliver(refuse=group_not_found()))
    with caplog.at_level(logging.WARNING, "ecsbox.logs.firelens"):
        asyncio.run(router.handle(APP_TAG, [(1.0, docker_record("a"))]))
        asyncio.run(router.handle(APP_TAG, [(2.0, docker_record("b"))]))
    assert [r.getMessage() for r in caplog.records] == [
        "event=firelens_cloudwatch_dropped output=container app group=/gone stream=s "
        "reason=The specified log group does not exist."
    ]
    extra = "[OUTPUT]\n    Name file\n    Match *\n    Path /out\n    Mkdir On\n"
    failing = route(options, tmp_path, FakeDeliver(refuse=OSError("disk I/O error")), extra)
    with pytest.raises(OSError, match="disk I/O error"):
        asyncio.run(failing.handle(APP_TAG, [(1.0, docker_record("a"))]))
    assert not (tmp_path / "out" / APP_TAG).exists()  # storing outputs go first: nothing to duplicate


def test_file_output_formats(tmp_path: Path) -> None:
    extra = (
        "[OUTPUT]\n    Name file\n    Match app-*\n    Path /fluent-bit/out\n    Mkdir true\n"
        "[OUTPUT]\n    Name file\n    Match app-*\n    Path /fluent-bit/out\n    File plain.log\n    Format plain\n"
        "[OUTPUT]\n    Name file\n    Match app-*\n    Path /fluent-bit/out\n    File t.log\n    Format template\n"
        "    Template {time} {source} {log} {nope}\n"
    )
    router = route({}, tmp_path, FakeDeliver(), extra)
    asyncio.run(
        router.handle(APP_TAG, [(1700000000.5, docker_record("one")), (1700000001.25, docker_record("two"))])
    )
    out = tmp_path / "fluent-bit" / "out"
    enriched = {**docker_record("one"), **METADATA}
    first_line = (out / APP_TAG).read_text().splitlines()[0]
    assert first_line == f"{APP_TAG}: [1700000000.500000000, {json.dumps(enriched, separators=(',', ':'))}]"
    plain = (out / "plain.log").read_text().splitlines()
    assert [json.loads(line)["log"] for line in plain] == ["one", "two"]
    template = (out / "t.log").read_text()
    assert template == "1700000000.500000 stdout one {nope}\n1700000001.250000 stdout two {nope}\n"


def test_file_output_into_a_missing_directory_without_mkdir_is_logged_and_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    router = route({}, tmp_path, FakeDeliver(), "[OUTPUT]\n    Name file\n    Match *\n    Path /nowhere\n")
    with caplog.at_level(logging.WARNING, "ecsbox.logs.firelens"):
        asyncio.run(router.handle(APP_TAG, [(1.0, docker_record("x"))]))
    assert "event=firelens_output_failed" in caplog.text and "FileNotFoundError" in caplog.text


def test_a_tag_made_from_record_content_is_never_a_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = (
        "[FILTER]\n    Name rewrite_tag\n    Match app-*\n    Rule $log ^(.*)$ $1 false\n"
        "[OUTPUT]\n    Name file\n    Match *\n    Path /out\n    Mkdir On\n"
    )
    router = route({}, tmp_path, FakeDeliver(), extra)
    with caplog.at_level(logging.WARNING, "ecsbox.logs.firelens"):
        asyncio.run(
            router.handle(APP_TAG, [(1.0, docker_record("../../escaped")), (2.0, docker_record("fine"))])
        )
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["fine"]
    assert "cannot be a file name" in caplog.text


def test_stdout_output_logs_each_record_at_info(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    router = route({"Name": "stdout"}, tmp_path, FakeDeliver())
    with caplog.at_level(logging.INFO, "ecsbox.logs.firelens"):
        asyncio.run(router.handle(APP_TAG, [(1.5, docker_record("shown"))]))
    [line] = [r for r in caplog.records if r.levelno == logging.INFO]
    assert line.getMessage().startswith(f"event=firelens_stdout line=[0] {APP_TAG}: [1.500000000, {{")
    assert '"log":"shown"' in line.getMessage()


def test_http_bodies() -> None:
    entries = [(1.5, {"log": "a"}), (2.0, {"log": "b"})]
    assert http_body("json", entries, "date", "double") == (
        b'[{"date":1.5,"log":"a"},{"date":2.0,"log":"b"}]',
        "application/json",
    )
    assert http_body("json_lines", entries, None, "double")[0] == b'{"log":"a"}\n{"log":"b"}\n'
    assert http_body("json_stream", entries, "ts", "epoch")[0] == b'{"ts":1,"log":"a"}{"ts":2,"log":"b"}'
    body, content_type = http_body("msgpack", entries, "date", "double")
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(body)
    events = list(unpacker)
    assert content_type == "application/msgpack"
    assert [(time.code, time.data, record) for time, record in events] == [  # Fluent's EventTime
        (0, b"\x00\x00\x00\x01\x1d\xcd\x65\x00", {"log": "a"}),
        (0, b"\x00\x00\x00\x02\x00\x00\x00\x00", {"log": "b"}),
    ]
    assert date_value(1700000000.25, "java_sql_timestamp") == "2023-11-14 22:13:20.250000"
    assert date_value(1700000000.25, "epoch_ms") == 1700000000250
    assert out_file_line("t", 0.000001, {}) == "t: [0.000001000, {}]"


async def _serve(answer: bytes, received: list[bytes]) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        received.append(head + await reader.readexactly(length))
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_http_output_posts_one_request_per_tag_to_the_mapped_address(tmp_path: Path) -> None:
    received: list[bytes] = []

    async def scenario() -> None:
        server, port = await _serve(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", received)
        async with server:
            factory = OutputFactory(FakeDeliver(), http_address=lambda host, _: ("127.0.0.1", port))
            extra = (
                "[OUTPUT]\n    Name http\n    Match *\n    Host logs.internal\n    Port 9880\n    URI /ingest\n"
                "    Format json_lines\n    json_date_key false\n    Header X-Team blue\n    header_tag FLUENT-TAG\n"
                "    http_User me\n    http_Passwd pw\n"
            )
            router = build_router(
                {"app": {}}, {"enable-ecs-log-metadata": "false"}, parse_fluent_bit_config(extra), {}, factory
            )
            await router.handle(APP_TAG, [(1.0, {"log": "a"}), (2.0, {"log": "b"})])

    asyncio.run(scenario())
    [request] = received
    head, body = request.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /ingest HTTP/1.1"
    assert {
        "Host: logs.internal:9880",
        "Content-Type: application/x-ndjson",
        f"FLUENT-TAG: {APP_TAG}",
        "X-Team: blue",
    } <= set(lines)
    assert f"Authorization: Basic {base64.b64encode(b'me:pw').decode()}" in lines
    assert body == b'{"log":"a"}\n{"log":"b"}\n'


def test_http_output_errors_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    received: list[bytes] = []

    async def scenario() -> None:
        server, port = await _serve(b"HTTP/1.1 503 Service Unavailable\r\n\r\n", received)
        async with server:
            extra = f"[OUTPUT]\n    Name http\n    Match *\n    Port {port}\n    Format json\n"
            router = build_router(
                {"app": {}}, {}, parse_fluent_bit_config(extra), METADATA, OutputFactory(FakeDeliver())
            )
            await router.handle(APP_TAG, [(1.0, docker_record("x"))])

    with caplog.at_level(logging.WARNING, "ecsbox.logs.firelens"):
        asyncio.run(scenario())
    assert len(received) == 1 and "answered 503" in caplog.text


# --- The seed configuration, end to end ------------------------------------------------------------


def test_records_through_the_seed_configuration_reach_cloudwatch_and_a_file(tmp_path: Path) -> None:
    """The seed's extra.conf as the log-router image would carry it, its Firehose output (not in
    ecsbox yet) swapped for a file output; the app container's options send to CloudWatch Logs
    and drop health checks."""
    extra = SEED_EXTRA_CONF.replace("Name firehose", "Name file").replace(
        "delivery_stream app-stream", "Path /fluent-bit/logs\n    Mkdir On"
    )
    options = {
        "app": {
            "Name": "cloudwatch_logs",
            "region": "eu-west-1",
            "log_group_name": "/ecs/web",
            "log_stream_prefix": "app/",
            "auto_create_group": "true",
            "exclude-pattern": "GET /health",
            "log-driver-buffer-limit": "2097152",
        },
        "worker": {
            "Name": "cloudwatch_logs",
            "region": "eu-west-1",
            "log_group_name": "/ecs/worker",
            "log_stream_name": "w",
            "log_key": "log",
        },
    }
    deliver = FakeDeliver()
    factory = OutputFactory(deliver, host_path=lambda path: tmp_path / path.lstrip("/"))
    router = build_router(
        options,
        {"config-file-type": "file", "config-file-value": "/extra.conf"},
        parse_fluent_bit_config(extra),
        dict(METADATA),
        factory,
    )
    asyncio.run(
        router.handle(
            APP_TAG,
            [
                (1700000000.0, docker_record("GET /health 200")),
                (1700000000.5, docker_record("GET /orders 200")),
                (1700000001.0, docker_record("boom", "stderr")),
            ],
        )
    )
    asyncio.run(
        router.handle(
            firelens_tag("worker", TASK_ID), [(1700000002.0, docker_record("job done", name="/worker"))]
        )
    )

    enriched = [
        {**docker_record(line, source), **METADATA, "environment": "production"}
        for line, source in [("GET /orders 200", "stdout"), ("boom", "stderr")]
    ]
    assert [(g, s, c) for _, g, s, _, c in deliver.calls] == [
        ("/ecs/web", f"app/{APP_TAG}", True),
        ("/ecs/worker", "w", False),
    ]
    assert [json.loads(message) for _, message in deliver.calls[0][3]] == enriched
    assert deliver.calls[1][3] == [(1700000002000, "job done")]  # log_key: the line alone
    # Match app-firelens*: the worker's records are not in the file.
    file_lines = (tmp_path / "fluent-bit" / "logs" / APP_TAG).read_text().splitlines()
    assert [line.split(": [", 1)[1].split(", ", 1)[0] for line in file_lines] == [
        "1700000000.500000000",
        "1700000001.000000000",
    ]
    assert [json.loads(line.split(", ", 1)[1][:-1]) for line in file_lines] == enriched


def test_a_container_routed_only_by_the_extra_configuration_gets_no_generated_output(tmp_path: Path) -> None:
    deliver = FakeDeliver()
    router = route({}, tmp_path, deliver)
    asyncio.run(router.handle(APP_TAG, [(1.0, docker_record("x"))]))
    assert router.outputs == () and deliver.calls == []
