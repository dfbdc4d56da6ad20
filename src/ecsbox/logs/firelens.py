"""FireLens: what ECS's generated Fluent Bit configuration, plus the user's ``config-file-type: file``
configuration, does to the records of a task's ``awsfirelens`` containers. Pure: parsing and the
record pipeline; :mod:`ecsbox.logs.firelens_outputs` performs the outputs.

The pipeline is the one the ECS agent writes (``agent/taskresource/firelens/firelensconfig_unix.go``
through ``go-config-generator-for-fluentd-and-fluentbit``), in this order:

1. one ``grep`` filter per ``include-pattern`` (``Regex log …``), then one per ``exclude-pattern``
   (``Exclude log …``), each ``Match <container>-firelens*``;
2. a ``record_modifier`` (``Match *``) adding ``ecs_cluster``, ``ecs_task_arn``,
   ``ecs_task_definition`` (and ``ec2_instance_id`` when known) unless the router's
   ``enable-ecs-log-metadata`` option is ``false``; Docker's fluentd driver already sent
   ``container_id``, ``container_name``, ``source`` and ``log``;
3. the extra configuration's FILTER sections, in order (``@INCLUDE``d after the generated filters),
   and its OUTPUT sections;
4. one OUTPUT per container whose ``logConfiguration.options`` name a plugin: ``Name`` selects it,
   ``Match <container>-firelens*``, every other option verbatim.

A record's tag is ``<container>-firelens-<task id>``. Matching follows Fluent Bit's router:
``Match`` is a whole-tag wildcard where ``*`` stands for any run of characters (case-sensitive,
nothing else is special); ``Match_Regex`` matches from the tag's start. A ``rewrite_tag`` filter
re-emits a copy under a new tag, which enters the pipeline again from its first filter.

>>> pipeline = build_pipeline({"app": {"Name": "stdout"}}, {}, None, {"ecs_cluster": "prod"})
>>> [(e.tag, e.record["ecs_cluster"]) for e in pipeline.process("app-firelens-t1", [(1.0, {"log": "hi"})])]
[('app-firelens-t1', 'prod')]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ecsbox.logs.firelens_config import (
    MISSING,
    VARIABLE,
    Entry,
    FireLensConfigError,
    FluentBitConfig,
    Part,
    Path,
    Record,
    Section,
    TagMatch,
    as_text,
    firelens_tag,
    fluent_regex,
    lookup,
    parse_accessor,
    parse_fluent_bit_config,
    parse_template,
    split_quoted,
    string_at,
    translate,
    wildcard,
)
from ecsbox.logs.firelens_filters import (
    GENERIC_KEYS,
    Filter,
    GrepFilter,
    GrepRule,
    ModifyFilter,
    ModifyStep,
    RecordModifierFilter,
    RewriteRule,
    RewriteTagFilter,
    build_filter,
)

__all__ = [
    "ACCEPTED_INPUTS",
    "GENERIC_KEYS",
    "MAX_REEMIT_DEPTH",
    "MISSING",
    "SUPPORTED_OUTPUTS",
    "Emission",
    "Entry",
    "Filter",
    "FireLensConfigError",
    "FluentBitConfig",
    "GrepFilter",
    "GrepRule",
    "ModifyFilter",
    "ModifyStep",
    "OutputSpec",
    "Part",
    "Path",
    "Pipeline",
    "Record",
    "RecordModifierFilter",
    "RewriteRule",
    "RewriteTagFilter",
    "Section",
    "TagMatch",
    "as_text",
    "build_filter",
    "build_pipeline",
    "check_output",
    "firelens_tag",
    "fluent_regex",
    "lookup",
    "parse_accessor",
    "parse_fluent_bit_config",
    "parse_template",
    "split_quoted",
    "string_at",
    "translate",
    "wildcard",
]

SUPPORTED_OUTPUTS = frozenset({"cloudwatch_logs", "cloudwatch", "file", "http", "stdout", "null"})
ACCEPTED_INPUTS = frozenset({"forward", "tcp"})  # ecsbox's Forward receiver is the input
# Container options that are not the output plugin's (the agent turns the patterns into grep filters
# and gives the buffer limit to Docker's fluentd driver).
_NOT_PLUGIN_OPTIONS = frozenset({"Name", "include-pattern", "exclude-pattern", "log-driver-buffer-limit"})
MAX_REEMIT_DEPTH = 8  # rewrite_tag chains deeper than this are dropped (a loop, not a route)


# --- Outputs (what to build; firelens_outputs builds it) ------------------------------------------


@dataclass(frozen=True)
class OutputSpec:
    plugin: str  # lower-cased Name
    match: TagMatch
    options: tuple[tuple[str, str], ...]  # every entry but Name / Match / Match_Regex, in order
    origin: str  # "container app" or "[OUTPUT] at extra.conf:12"

    def option(self, key: str, default: str | None = None) -> str | None:
        lowered = key.lower()
        found = [value for name, value in self.options if name.lower() == lowered]
        return found[-1] if found else default

    def options_all(self, key: str) -> list[str]:
        lowered = key.lower()
        return [value for name, value in self.options if name.lower() == lowered]

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.option(key)
        return default if value is None else value.strip().lower() in ("true", "on", "yes", "1")


def check_output(spec: OutputSpec, written_name: str | None = None) -> None:
    """Refuse an output ecsbox does not have, or one Fluent Bit itself would not start."""
    if spec.plugin not in SUPPORTED_OUTPUTS:
        raise FireLensConfigError(
            f"output plugin '{written_name or spec.plugin}' is not available in ecsbox yet"
        )
    where = f"output {spec.plugin} ({spec.origin})"
    if spec.plugin in ("cloudwatch_logs", "cloudwatch"):
        for required in ("region", "log_group_name"):
            if not spec.option(required):
                raise FireLensConfigError(f"{where}: '{required}' is a required field")
        if bool(spec.option("log_stream_name")) == bool(spec.option("log_stream_prefix")):
            raise FireLensConfigError(
                f"{where}: set exactly one of 'log_stream_name' and 'log_stream_prefix'"
            )
    elif spec.plugin == "http":
        if not (spec.option("port") or "80").isdigit():
            raise FireLensConfigError(f"{where}: Port must be a number")
        form = (spec.option("format") or "msgpack").lower()
        if form not in ("json", "json_lines", "json_stream", "msgpack"):
            raise FireLensConfigError(f"{where}: Format '{form}' is not available in ecsbox yet")
    elif spec.plugin == "file":
        form = (spec.option("format") or "out_file").lower()
        if form not in ("out_file", "plain", "template"):
            raise FireLensConfigError(f"{where}: Format '{form}' is not available in ecsbox yet")


# --- The pipeline ----------------------------------------------------------------------------------


class Emission(NamedTuple):
    output: int  # index into Pipeline.outputs
    tag: str
    time: float
    record: Record


@dataclass
class Pipeline:
    filters: tuple[Filter, ...]
    outputs: tuple[OutputSpec, ...]
    warnings: tuple[str, ...] = ()
    _routes: dict[str, tuple[tuple[Filter, ...], tuple[int, ...]]] = field(default_factory=dict, repr=False)

    def route(self, tag: str) -> tuple[tuple[Filter, ...], tuple[int, ...]]:
        """The filters and outputs whose Match takes ``tag`` (remembered: a task has few tags)."""
        known = self._routes.get(tag)
        if known is None:
            if len(self._routes) >= 1024:
                self._routes.clear()
            known = self._routes[tag] = (
                tuple(f for f in self.filters if f.match(tag)),
                tuple(i for i, spec in enumerate(self.outputs) if spec.match(tag)),
            )
        return known

    def process(self, tag: str, entries: Sequence[Entry]) -> list[Emission]:
        """What reaches which output: each record through the filters its tag matches, in order;
        records a rewrite_tag re-emits follow the chunk, from the first filter again."""
        emitted: list[Emission] = []
        pending = deque((tag, time, dict(record), 0) for time, record in entries)
        while pending:
            current_tag, time, current, depth = pending.popleft()
            filters, outputs = self.route(current_tag)
            record = current
            for stage in filters:
                if isinstance(stage, RewriteTagFilter):
                    new_tag, keep = stage.rewrite(current_tag, record)
                    if new_tag is not None and depth < MAX_REEMIT_DEPTH:
                        pending.append((new_tag, time, dict(record), depth + 1))
                    if not keep:
                        break
                    continue
                changed = stage.apply(current_tag, record)
                if changed is None:
                    break
                record = changed
            else:
                emitted.extend(Emission(index, current_tag, time, record) for index in outputs)
        return emitted


def _enabled(value: str | None) -> bool:
    return (value or "true").strip().lower() != "false"


def build_pipeline(
    options_by_container: Mapping[str, Mapping[str, str]],
    firelens_options: Mapping[str, str],
    extra_config: FluentBitConfig | None,
    metadata: Mapping[str, str],
    *,
    env: Mapping[str, str] | None = None,
) -> Pipeline:
    """The task's pipeline, as the ECS agent's generated configuration plus ``extra_config`` would
    run it. ``metadata`` holds ``ecs_cluster``, ``ecs_task_arn``, ``ecs_task_definition``
    (family:revision) and, on EC2, ``ec2_instance_id``; ``env`` resolves ``${VAR}`` placeholders
    in container options (secretOptions). Raises FireLensConfigError with the reason to show."""
    warnings: list[str] = []
    filters: list[Filter] = []
    environment = env or {}

    def resolve(value: str) -> str:
        return VARIABLE.sub(lambda m: environment.get(m[1], ""), value)

    includes: list[Filter] = []
    excludes: list[Filter] = []
    for container, options in options_by_container.items():
        match = TagMatch(f"{container}-firelens*")
        for key, value in options.items():
            if key in ("include-pattern", "exclude-pattern"):
                rule = GrepRule(key == "exclude-pattern", ("log",), fluent_regex(value))
                target = excludes if rule.exclude else includes
                target.append(GrepFilter(match, f"{key} of container {container}", [rule], "legacy"))
    filters += includes + excludes
    if _enabled(firelens_options.get("enable-ecs-log-metadata")):
        fields = ("ecs_cluster", "ecs_task_arn", "ecs_task_definition", "ec2_instance_id")
        records = [(name, metadata[name]) for name in fields if metadata.get(name)]
        filters.append(RecordModifierFilter(TagMatch("*"), "ECS metadata", records))

    outputs: list[OutputSpec] = []
    for section in extra_config.sections if extra_config else ():
        if section.name == "INPUT" and section.plugin not in ACCEPTED_INPUTS:
            raise FireLensConfigError(
                f"input plugin '{section.get('name')}' ({section.where}) is not available in ecsbox: "
                "FireLens records reach ecsbox only through Fluent Forward"
            )
        if section.name in ("FILTER", "OUTPUT") and TagMatch.of(section).empty:
            warnings.append(f"{section.where}: no Match or Match_Regex, so it takes no records")
        if section.name == "FILTER":
            filters.append(build_filter(section, warnings))
        elif section.name == "OUTPUT":
            spec = OutputSpec(
                section.plugin,
                TagMatch.of(section),
                tuple(
                    (k, v) for k, v in section.entries if k.lower() not in ("name", "match", "match_regex")
                ),
                section.where,
            )
            check_output(spec, section.get("name"))
            outputs.append(spec)

    for container, options in options_by_container.items():
        plugin_options = tuple((k, resolve(v)) for k, v in options.items() if k not in _NOT_PLUGIN_OPTIONS)
        name = options.get("Name")
        if name is None:
            if plugin_options:
                raise FireLensConfigError(
                    f"container {container}: missing output key Name which is required for "
                    "firelens configuration of type fluentbit"
                )
            continue  # the extra configuration routes this container's records
        spec = OutputSpec(
            name.lower(), TagMatch(f"{container}-firelens*"), plugin_options, f"container {container}"
        )
        check_output(spec, name)
        outputs.append(spec)
    return Pipeline(tuple(filters), tuple(outputs), tuple(warnings))
