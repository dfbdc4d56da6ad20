"""CloudWatch Logs filter patterns (pure): the examples of AWS's "Filter pattern syntax" guide (and
of its older text), with the log events it says match and do not match, then the cases where the
guide leaves a question open and the module decides (see the comments in ecsbox.logs.patterns)."""

from __future__ import annotations

import doctest
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.logs import patterns
from ecsbox.logs.patterns import MAX_PATTERN_LENGTH, FilterPattern, PatternError, compile_pattern

# The guide's unstructured log events.
INFO_200 = "[INFO 200] SUCCESSFUL REQUEST"
ERROR_401 = "[ERROR 401] UNAUTHORIZED REQUEST"
ERROR_400 = "[ERROR 400] BAD REQUEST"
ERROR_419 = "[ERROR 419] MISSING ARGUMENTS"
ERROR_420 = "[ERROR 420] INVALID ARGUMENTS"
ERROR_500 = "[ERROR 500] INTERNAL SERVER ERROR"
SUCCESS_200 = "[SUCCESS 200] AUTHORIZED REQUEST"
INFO_FAILED = "[INFO] REQUEST FAILED"
WARN_UNAUTHORIZED = "[WARN] UNAUTHORIZED REQUEST"
DEBUG_500 = "[DEBUG 500] DEBUGGING INTERNAL INVALID"

# The guide's JSON log event (on one line, as the guide says to test it) and its compound one.
EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
        "cluster.name": "c",
    }
)
COMPOUND = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)

# The guide's space-delimited events: an Apache line, the older guide's three, and application lines.
APACHE = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
ACCESS_200 = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534'
ACCESS_500 = '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324'
ACCESS_SMALL = '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 355'
APP_GET = "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200"
APP_POST = "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310"
APP_WARNING = "WARNING 09/25/2014 12:00:02 Invalid user request"
APP_ERROR = "ERROR 09/25/2014 12:00:02 Failed to process request"

LAMBDA_REPORT = (
    "REPORT RequestId: 3f9a0c1e-6b1d-4f5e-9a53-0e2d8c7b1a11\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 70 MB\t"
)
LAMBDA_COLD = LAMBDA_REPORT + "Init Duration: 150.12 ms\t"
LAMBDA_MEMORY = (
    '[report_name="REPORT", request_id_name="RequestId:", request_id_value, duration_name="Duration:", '
    'duration_value, duration_unit="ms", billed_duration_name_1="Billed", bill_duration_name_2="Duration:", '
    'billed_duration_value, billed_duration_unit="ms", memory_size_name_1="Memory", memory_size_name_2="Size:", '
    'memory_size_value, memory_size_unit="MB", max_memory_used_name_1="Max", max_memory_used_name_2="Memory", '
    'max_memory_used_name_3="Used:", max_memory_used_value, max_memory_used_unit="MB"'
)

CASES = [
    # --- Unstructured terms: the guide's examples -------------------------------------------
    ("ERROR", ERROR_400, True),
    ("ERROR", ERROR_401, True),
    ("ERROR", ERROR_419, True),
    ("ERROR", ERROR_420, True),
    ("ERROR", INFO_200, False),
    ("ERROR ARGUMENTS", ERROR_419, True),
    ("ERROR ARGUMENTS", ERROR_420, True),
    ("ERROR ARGUMENTS", ERROR_400, False),
    ("ERROR ARGUMENTS", ERROR_401, False),
    ("?ERROR ?ARGUMENTS", ERROR_400, True),
    ("?ERROR ?ARGUMENTS", ERROR_401, True),
    ("?ERROR ?ARGUMENTS", ERROR_419, True),
    ("?ERROR ?ARGUMENTS", ERROR_420, True),
    ("?ERROR ?ARGUMENTS", INFO_FAILED, False),
    # "If you combine "?" with other filter patterns, all question mark terms will be ignored."
    ("?ERROR ?ARGUMENTS REQUEST", INFO_FAILED, True),
    ("?ERROR ?ARGUMENTS REQUEST", WARN_UNAUTHORIZED, True),
    ("?ERROR ?ARGUMENTS REQUEST", "[ERROR] 400 BAD REQUEST", True),
    ("?ERROR ?ARGUMENTS REQUEST", ERROR_419, False),
    ("?ERROR -REQUEST", ERROR_419, True),  # ? beside an exclusion is ignored too
    ('"INTERNAL SERVER ERROR"', ERROR_500, True),
    ('"INTERNAL SERVER ERROR"', DEBUG_500, False),
    ('"INTERNAL SERVER ERROR"', "[ERROR 500] INTERNAL ERROR ON SERVER", False),
    ("ERROR -ARGUMENTS", ERROR_400, True),
    ("ERROR -ARGUMENTS", ERROR_401, True),
    ("ERROR -ARGUMENTS", ERROR_419, False),
    ("ERROR -ARGUMENTS", ERROR_420, False),
    ('" "', ERROR_400, True),  # "match everything"
    ('" "', "nospaces", True),
    ('" "', "", True),
    ("", "anything", True),
    ("   ", "", True),
    # The older guide's examples.
    ("ERROR", "[ERROR] A fatal exception has occurred", True),
    ("ERROR", "Exiting with ERRORCODE: -1", True),  # terms are substrings, not words
    ('"ERROR" - "Exiting"', "Exiting with ERRORCODE: -1", False),
    ('"ERROR" - "Exiting"', "[ERROR] A fatal exception has occurred", True),
    ("ERROR Exception", "[ERROR] Caught IllegalArgumentException", True),
    ("ERROR Exception", "[ERROR] Unhandled Exception", True),
    ("Failed to process the request", "[WARN] Failed to process the request", True),
    ("Failed to process the request", "[ERROR] Unable to continue: Failed to process the request", True),
    ("Failed to process the request", "[ERROR] Failed to process", False),
    ("ERROR", "ERROR WARN message", True),
    ("ERROR", "WARN message", False),
    ("?ERROR ?WARN", "WARN message", True),
    ("ERROR WARN", "ERROR message", False),
    ("ERROR -WARN", "ERROR message", True),
    ("ERROR -WARN", "ERROR WARN message", False),
    ("-ERROR", "all is well", True),  # Lightsail's filterPattern reference: -ERROR returns the others
    ("-ERROR", ERROR_400, False),
    ("ERROR", "an error happened", False),  # case-sensitive
    ("ERROR", "ERRORS", True),
    (
        '"[ERROR]" Exception',
        "02 May 2014 00:34:16,142 [ERROR] Unhanded exception: InvalidQueryException",
        True,
    ),
    ('"[ERROR]"', "02 May 2014 00:34:12,525 [INFO] Starting the application", False),
    ('"user@example.com"', "login user@example.com ok", True),
    ('"say \\"hi\\""', 'they say "hi" twice', True),
    # --- Regular expressions ---------------------------------------------------------------
    ("%AUTHORIZED%", ERROR_401, True),
    ("%AUTHORIZED%", SUCCESS_200, True),
    ("%AUTHORIZED%", ERROR_400, False),
    ("%^[hc]at%", "hat trick", True),
    ("%^[hc]at%", "that", False),
    ("%[hc]at$%", "the cat", True),
    ("%[hc]at$%", "cats", False),
    ("%colou?r%", "color", True),
    ("%colou?r%", "colour", True),
    ("%[abcx-z]%", "y", True),
    ("%[abcx-z]%", "w", False),
    ("%^a{3,5}$%", "aaaa", True),
    ("%^a{3,5}$%", "aa", False),
    ("%^a{3, 5}$%", "aaa", True),
    ("%gra|ey%", "grey", True),
    ("%^starting|^initializing|^shutting down%", "shutting down now", True),
    ("%^starting|^initializing|^shutting down%", "skipping initializing ...", False),
    ("%\\[.\\]%", "value [7] here", True),
    ("%\\[.\\]%", "[]]", True),
    ("%ab*c%", "ac", True),
    ("%ab+c%", "ac", False),
    ("%ab[0-9]*%", "ab129", True),
    ("%.at%", " at", True),
    ("%10\\.10\\.0\\.1%", "from 10.10.0.1", True),
    ("%10\\.10\\.0\\.1%", "10010,051", False),
    ("%10.10.0.1%", "10010,051", True),  # the guide's warning: an unescaped . is any character
    ("%\\d%", "port 80", True),
    ("%\\D%", "8080", False),
    ("%\\s%", "a\tb", True),
    ("%\\w%", "--", False),
    ("%\\x3A%", "key:value", True),
    # --- JSON: the guide's examples ----------------------------------------------------------
    ('{ $.eventType = "UpdateTrail" }', EVENT, True),
    ('{ $.eventType = "Update" }', EVENT, False),
    ("{ $.eventType = UpdateTrail }", EVENT, True),  # alphanumeric strings need no quotes
    ("{ $.sourceIPAddress != 123.123.* }", EVENT, True),
    ("{ $.sourceIPAddress != 111.111.* }", EVENT, False),
    ('{ $.arrayKey[0] = "value" }', EVENT, True),
    ('{ $.arrayKey[1] = "value" }', EVENT, False),
    ("{ $.objectList[1].id = 2 }", EVENT, True),
    ("{ $.objectList[0].id = 2 }", EVENT, False),
    ("{ $.SomeObject IS NULL }", EVENT, True),
    ("{ $.eventType IS NULL }", EVENT, False),
    ("{ $.SomeOtherObject NOT EXISTS }", EVENT, True),
    ("{ $.SomeObject NOT EXISTS }", EVENT, False),  # null exists
    ("{ $.ThisFlag IS TRUE }", EVENT, True),
    ("{ $.ThisFlag IS FALSE }", EVENT, False),
    ("{ $.eventType = %Trail% }", EVENT, True),
    ("{ $.arrayKey[*] = %val.{2}% }", EVENT, True),
    ("{ $.* = %111\\.111\\.111\\.1[0-9]{1,2}% }", EVENT, True),
    ("{ $.* = %112\\.% }", EVENT, False),
    ("{ $.['cluster.name'] = \"c\" }", EVENT, True),
    ('{ $.objectList[*].name = "b" }', EVENT, True),
    ('{ $.eventType = "*" && $.sourceIPAddress != 123.123.* }', EVENT, True),
    ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', COMPOUND, True),
    ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', COMPOUND, False),
    (
        '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }',
        COMPOUND,
        True,
    ),
    (
        '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }',
        COMPOUND,
        False,
    ),
    ("{ $.coordinates[1][2] = 6 }", COMPOUND, True),
    ("{ $.foo = bar }", '{"foo": "bar"}', True),
    ("{ $.foo = baz }", '{"foo": "bar"}', False),
    ("{ $.foo = bar || $.foo = baz }", '{"foo": "baz"}', True),
    ("{ $.users = 1 }", '{"users": [1, 2, 3]}', False),  # a selector at an array never matches
    ("{ $.users != 1 }", '{"users": [1, 2, 3]}', False),
    ("{ $.bandwidth > 75 }", '{"bandwidth": 80}', True),
    ("{ $.bandwidth > 75 }", '{"bandwidth": 75}', False),
    ("{ $.latency < 50 }", '{"latency": 49.5}', True),
    ("{ $.refreshRate >= 60 }", '{"refreshRate": 60}', True),
    ("{ $.responseTime <= 5 }", '{"responseTime": 5.01}', False),
    ("{ $.errorCode = 400}", '{"errorCode": 400}', True),
    ("{ $.errorCode != 500 }", '{"errorCode": 500}', False),
    ("{ $.number[0] = 1e+3 }", '{"number": [1000]}', True),
    ("{ $.number[0] != 1e-3 }", '{"number": [0.001]}', False),
    ("{ $.numbers[0] < 10e3 }", '{"numbers": [9999]}', True),
    (
        "{ $.processes[4].averageRuntime <= 55.5 }",
        '{"processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}]}',
        True,
    ),
    ("{ $.latency > +1000 }", '{"latency": 1000.5}', True),
    ("{ $.latency = * }", '{"latency": 50, "requestType": "GET"}', True),
    ("{ $.latency = * }", '{"requestType": "GET"}', False),
    # The pattern.
    ('{ $.level = "ERROR" && $.latency > 200 }', '{"level": "ERROR", "latency": 250}', True),
    ('{ $.level = "ERROR" && $.latency > 200 }', '{"level": "ERROR", "latency": 200}', False),
    ('{ $.level = "ERROR" && $.latency > 200 }', '{"level": "WARN", "latency": 900}', False),
    ('{ $.level = "ERROR" && $.latency > 200 }', '{"level": "\\u0045RROR", "latency": 201}', True),  # escaped
    ('{ $.level = "ERROR" && $.latency > 200 }', 'ERROR {"level": "ERROR", "latency": 250}', False),
    ('{ $.level = "ERROR" && $.latency > 200 }', "ERROR latency=250", False),
    ("{ $.level NOT EXISTS }", "level is missing, but this is no JSON", False),
    ("{ $.level NOT EXISTS }", "[1, 2]", False),
    ("{ $.flag = true }", '{"flag": true}', False),  # booleans are no value nodes: IS TRUE tests them
    ("{ $.code = 4* }", '{"code": 404}', True),
    ('{ $.code = "404" }', '{"code": 404}', True),
    ("{ $.code = 404 }", '{"code": "404"}', True),
    ("{ $.code > 2 }", '{"code": "many"}', False),
    ('{ $.price = "1.50" }', '{"price": 1.50}', True),  # a number reads as it is written
    ('{ $.missing != "x" }', "{}", False),  # a missing property satisfies no comparison
    ('{ $.detail-type = "Scheduled Event" }', '{"detail-type": "Scheduled Event"}', True),
    ('{ $.msg = "*timeout*" }', '{"msg": "read timeout after 5s"}', True),
    ('{ $.msg = "Ev*ent" }', '{"msg": "Event"}', False),  # * works at either end only
    # --- Space-delimited: the guide's examples -----------------------------------------------
    ("[ip, user, username, timestamp, request, status_code, bytes]", APACHE, True),
    (
        "[ip=%127\\.0\\.0\\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        APACHE,
        True,
    ),
    ("[..., request =*.html*, status_code = 4*, bytes]", APACHE, True),
    (
        "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
        APACHE,
        True,
    ),
    (
        "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
        ACCESS_200,
        False,
    ),
    ("[ip, server, username, timestamp, request, status_code, bytes > 1000]", APACHE, True),
    ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", ACCESS_500, True),
    ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", ACCESS_SMALL, False),
    ("[ip, user, username, timestamp, request, status_code = 200, bytes]", ACCESS_200, True),
    ("[ip, user, username, timestamp, request, status_code = 200, bytes]", ACCESS_500, False),
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", APACHE, True),
    ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", ACCESS_200, False),
    ("[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]", APACHE, True),
    ("[..., status_code, bytes]", APACHE, True),
    ("[ip, user, ..., status_code, bytes]", APACHE, True),
    ("[ip, user, ...]", APACHE, True),
    ("[..., request=*.html*, status_code=4*,]", APACHE, True),
    ('[..., request = "GET /index.html HTTP/1.0", status_code, bytes]', APACHE, True),
    ('[..., timestamp = "*2000:13:25:15*", request, status_code, bytes]', APACHE, True),
    ("[w1=ERROR, w2]", APP_ERROR, True),
    ("[w1=ERROR, w2]", APP_GET, False),
    ("[w1=ERROR || w1=WARNING, w2]", APP_WARNING, True),
    ("[w1=ERROR || w1=WARNING, w2]", APP_ERROR, True),
    ("[w1=ERROR || w1=WARNING, w2]", APP_GET, False),
    ("[w1!=ERROR && w1!=WARNING, w2]", APP_GET, True),
    ("[w1!=ERROR && w1!=WARNING, w2]", APP_ERROR, False),
    ("[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]", APP_GET, True),
    ("[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]", APP_POST, False),
    (
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]",
        APP_POST,
        True,
    ),
    # The decisions: the last field takes the rest of the line, so a lone field compares all of it.
    ("[w1=ERROR]", APP_ERROR, False),
    ("[w1=ERROR]", "ERROR", True),
    ("[w1=ERROR, w2]", "ERROR", False),  # two fields need two
    ("[a, b, c, d, e, f, g, h]", APACHE, False),
    ("[a, b, c, d, e, f, g, h, ...]", APACHE, False),
    ("[]", "", True),
    ("[..., bytes > 100]", "a b c d e f text", False),  # a word is no number
    ("[..., status != 200, bytes]", "a - 200 12", False),
    ("[..., status != 200, bytes]", "a - - 12", True),
    # A Lambda REPORT line: tab-separated, quoted values; a cold start adds fields at the end.
    (LAMBDA_MEMORY + "]", LAMBDA_REPORT, True),
    (LAMBDA_MEMORY + "]", LAMBDA_COLD, False),
    (LAMBDA_MEMORY + ", ...]", LAMBDA_COLD, True),
]


@pytest.mark.parametrize(("pattern", "message", "expected"), CASES)
def test_the_guide_s_examples(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(message) is expected
    assert (compile_pattern(pattern).fields(message) is not None) is expected


INVALID = [
    ("Status:", "Invalid character(s) in term ':'"),
    ("email@domain.com", "Invalid character(s) in term '@'"),
    ("foo(bar)", "Invalid character(s) in term '('"),
    ("10.0.0.1", "Invalid character(s) in term '.'"),
    ('""', "Invalid character(s) in term '\"\"'"),
    ("ERROR -", "Invalid character(s) in term '-'"),
    ("?-ERROR", "Invalid character(s) in term '-'"),
    ('"unterminated', "Invalid filter pattern"),
    ('"a"b', "Invalid character(s) in term '\"'"),
    ("ERROR %foo%", "Invalid character(s) in term '%'"),
    ('{ $.a = "b" ', "If a filter pattern starts with '{' it must end with '}'"),
    ("[a, b", "If a filter pattern starts with '[' it must end with ']'"),
    ('{ $."sc-status" = 5* }', "Invalid character(s) in term '$.\"'"),
    ("{ }", "Invalid filter pattern"),
    ("{ $.a }", "Invalid filter pattern"),
    ("{ $.a = }", "Invalid filter pattern"),
    ("{ a = 1 }", "Invalid filter pattern"),
    ("{ $ = 1 }", "Invalid filter pattern"),
    ("{ $[0] = 1 }", "Invalid filter pattern"),
    ("{ $.a == 1 }", "Invalid filter pattern"),
    ("{ $.a = 1 && }", "Invalid filter pattern"),
    ("{ ($.a = 1 }", "Invalid filter pattern"),
    ("{ $.a = 1) }", "Invalid filter pattern"),
    ("{ $.a IS MAYBE }", "Invalid filter pattern"),
    ("{ $.a IS NOT NULL }", "Invalid filter pattern"),  # "IS NOT and EXISTS currently aren't supported"
    ("{ $.a EXISTS }", "Invalid filter pattern"),
    ("{ $.a[x] = 1 }", "Invalid filter pattern"),
    ("{ $.a > abc }", "Invalid filter pattern"),  # ordering wants a number
    ("{ $.a > %x% }", "Invalid filter pattern"),
    ('{ $.a = "b" & $.c = 1 }', "Invalid character(s) in term '&'"),
    ("{ $.a = b@c }", "Invalid character(s) in term '@'"),
    ("[..., t = *13:25*, b]", "Invalid character(s) in term ':'"),
    ("{ $.*[*] = 1 }", "Invalid filter pattern"),  # one wildcard per selector
    # Three wildcard selectors per pattern at most.
    ("{ $.a[*] = 1 || $.b[*] = 1 || $.c[*] = 1 || $.d[*] = 1 }", "Invalid filter pattern"),
    ("{ $.a = %x% || $.b = %y% || $.c = %z% }", "Invalid filter pattern"),  # two regexes per pattern
    ("[a=%x%, b=%y%, c=%z%]", "Invalid filter pattern"),
    ("[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]", "Invalid filter pattern"),
    ("[w1=ERROR || W1=WARNING, w2]", "Invalid filter pattern"),  # names are case-sensitive
    ("[a, ..., b, ..., c]", "Invalid filter pattern"),
    ("[a, a]", "Invalid filter pattern"),
    ("[1a, b]", "Invalid filter pattern"),
    ("[a = , b]", "Invalid filter pattern"),
    ("[a = 1 ||, b]", "Invalid filter pattern"),
    ("[w1=!ERROR, w2]", "Invalid character(s) in term '!'"),
    ("[a IS NULL]", "Invalid filter pattern"),
    ("%%", "Invalid filter pattern"),
    ("%something!%", "Invalid filter pattern"),
    ("%(ab)+%", "Invalid filter pattern"),  # "The ( and ) operators are not supported"
    ("%café%", "Invalid filter pattern"),  # "Multi-byte characters are not supported"
    ("%\\p%", "Invalid filter pattern"),
    ("%a{3,%", "Invalid filter pattern"),
    ("%[a-%", "Invalid filter pattern"),
]


@pytest.mark.parametrize(("pattern", "message"), INVALID)
def test_invalid_patterns_are_refused_with_aws_s_message(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as raised:
        compile_pattern(pattern)
    assert str(raised.value) == message
    assert raised.value.code == "InvalidParameterException"


def test_a_pattern_is_at_most_1024_characters() -> None:
    longest = "A" * MAX_PATTERN_LENGTH
    assert compile_pattern(longest).matches(longest)
    with pytest.raises(PatternError) as raised:
        compile_pattern(longest + "A")
    assert raised.value.code == "ValidationException"
    assert "Member must have length less than or equal to 1024" in str(raised.value)


@pytest.mark.parametrize(
    ("pattern", "kind"),
    [
        ("", "all"),
        (" ", "all"),
        ("ERROR", "terms"),
        ('" "', "terms"),
        ("%ERR%", "regex"),
        ("{ $.a = 1 }", "json"),
        ("[a, b]", "delimited"),
    ],
)
def test_kinds(pattern: str, kind: str) -> None:
    assert compile_pattern(pattern).kind == kind


def test_patterns_compare_by_their_text_and_compile_once() -> None:
    assert FilterPattern("ERROR") == compile_pattern("ERROR")
    assert compile_pattern("ERROR") is compile_pattern("ERROR")
    assert FilterPattern("ERROR") != FilterPattern("WARN")
    with pytest.raises(PatternError):
        FilterPattern("a:b")


# --- The values metric filters use ---------------------------------------------------------------

FIELDS = [
    # The guide's extracted values for its Apache line, every field named.
    (
        "[ip, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        APACHE,
        {
            "$ip": "127.0.0.1",
            "$user": "Prod",
            "$username": "frank",
            "$timestamp": "10/Oct/2000:13:25:15 -0700",
            "$request": "GET /index.html HTTP/1.0",
            "$status_code": "404",
            "$bytes": "1534",
        },
    ),
    # The older guide: unnamed fields (the ellipsis, an empty last entry) by position.
    (
        "[..., request=*.html*, status_code=4*,]",
        APACHE,
        {
            "$1": "127.0.0.1",
            "$2": "Prod",
            "$3": "frank",
            "$4": "10/Oct/2000:13:25:15 -0700",
            "$request": "GET /index.html HTTP/1.0",
            "$status_code": "404",
            "$7": "1534",
        },
    ),
    ("[ip, user, ...]", "a b c d", {"$ip": "a", "$user": "b", "$3": "c", "$4": "d"}),
    ("[ip, ..., bytes]", "a b c d", {"$ip": "a", "$2": "b", "$3": "c", "$bytes": "d"}),
    ("[level, rest]", "ERROR  disk   full  \n", {"$level": "ERROR", "$rest": "disk   full"}),
    ("[]", "a [b c]", {"$1": "a", "$2": "b c"}),
    # JSON: every scalar by its selector.
    (
        "{ $.latency = * }",
        '{"latency": 50, "requestType": "GET"}',
        {"$.latency": 50, "$.requestType": "GET"},
    ),
    (
        "{ $.a.b[1] = x }",
        '{"a": {"b": [1.5, "x", true, null, {}]}, "c.d": "e"}',
        {"$.a.b[0]": 1.5, "$.a.b[1]": "x", "$.a.b[2]": True, "$.a.b[3]": None, "$.['c.d']": "e"},
    ),
    # Terms, a regex and the empty pattern match but extract nothing.
    ("ERROR", ERROR_400, {}),
    ("%ERR%", ERROR_400, {}),
    ("", "", {}),
    # No match, no fields.
    ("ERROR", INFO_200, None),
    ("{ $.latency > 100 }", '{"latency": 50}', None),
    ("[a, b, c]", "a b", None),
]


@pytest.mark.parametrize(("pattern", "message", "expected"), FIELDS)
def test_fields(pattern: str, message: str, expected: dict[str, object] | None) -> None:
    found = compile_pattern(pattern).fields(message)
    assert found == expected
    if found:
        assert list(found) == list(expected or {}), "fields are listed in the order they stand"


def test_the_lambda_report_s_memory_is_a_field() -> None:
    found = compile_pattern(LAMBDA_MEMORY + "]").fields(LAMBDA_REPORT)
    assert found is not None
    assert found["$max_memory_used_value"] == "70"
    assert found["$request_id_value"] == "3f9a0c1e-6b1d-4f5e-9a53-0e2d8c7b1a11"
    assert found["$max_memory_used_unit"] == "MB"


def test_the_seed_pattern_s_fields_feed_a_metric() -> None:
    found = compile_pattern('{ $.level = "ERROR" && $.latency > 200 }').fields(
        '{"level": "ERROR", "latency": 250.5, "path": "/orders"}'
    )
    assert found == {"$.level": "ERROR", "$.latency": 250.5, "$.path": "/orders"}


# --- Properties -------------------------------------------------------------------------------------

_words = st.text(alphabet="abcXYZ019_", min_size=1, max_size=8)
_messages = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)


@given(_messages, st.data())
def test_a_message_matches_each_of_its_own_words(message: str, data: st.DataObject) -> None:
    words = re.findall(r"[A-Za-z0-9_]+", message)
    if not words:
        return
    word = data.draw(st.sampled_from(words))
    assert compile_pattern(word).matches(message)
    assert not compile_pattern(f"-{word}").matches(message)


@given(_messages, _words)
def test_an_exclusion_never_matches_a_message_with_the_term(message: str, word: str) -> None:
    with_word = message + word
    assert not compile_pattern(f"-{word}").matches(with_word)
    assert compile_pattern(f"-{word}").matches(message) is (word not in message)


@given(_messages, _words, _words)
def test_question_marks_alone_mean_any(message: str, first: str, second: str) -> None:
    assert compile_pattern(f"?{first} ?{second}").matches(message) is (first in message or second in message)
    assert compile_pattern(f"{first} {second}").matches(message) is (first in message and second in message)


@given(st.lists(st.text(alphabet="abc-./:019", min_size=1, max_size=6), min_size=1, max_size=6))
def test_space_delimited_fields_come_back_as_written(words: list[str]) -> None:
    names = [f"f{i}" for i in range(len(words))]
    found = compile_pattern("[" + ", ".join(names) + "]").fields(" ".join(words))
    assert found == {f"${name}": word for name, word in zip(names, words, strict=True)}


@given(
    st.dictionaries(
        st.text(alphabet="abcdef_", min_size=1, max_size=5),
        st.one_of(st.integers(-(10**6), 10**6), st.text(max_size=10), st.booleans(), st.none()),
        min_size=1,
    ),
    st.data(),
)
def test_a_json_event_matches_its_own_values(event: dict[str, object], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(event)))
    value = event[key]
    message = json.dumps(event, ensure_ascii=data.draw(st.booleans()))
    if value is None:
        pattern = f"{{ $.{key} IS NULL }}"
    elif isinstance(value, bool):
        pattern = f"{{ $.{key} IS {str(value).upper()} }}"
    elif isinstance(value, int):
        pattern = f"{{ $.{key} = {value} && $.{key} >= {value} && $.{key} < {value + 1} }}"
    else:
        assert isinstance(value, str)
        pattern = "{ $.%s = %s }" % (key, json.dumps(value).replace("*", ""))  # noqa: UP031
        if "*" in value or "\\" in json.dumps(value)[1:-1].replace('\\"', ""):
            return  # wildcards, and escapes the pattern's strings do not have
    assert compile_pattern(pattern).matches(message), (pattern, message)
    assert compile_pattern(f"{{ $.{key}_ NOT EXISTS }}").matches(message) is (f"{key}_" not in event)


def test_the_module_s_worked_examples() -> None:
    result = doctest.testmod(patterns, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 20
    assert result.failed == 0
