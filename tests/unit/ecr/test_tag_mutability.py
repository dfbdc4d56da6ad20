"""Which tags a repository's tag mutability pins to their image (ImageTagAlreadyExistsException on a
move): every tag, none, or the tags its exclusion filters match or do not match."""

from __future__ import annotations

from typing import Any

import pytest

from ecsbox.ecr.image_repo import tag_immutable


def repository(mutability: str | None, *filters: str) -> dict[str, Any]:
    document: dict[str, Any] = {} if mutability is None else {"imageTagMutability": mutability}
    if filters:
        document["imageTagMutabilityExclusionFilters"] = [
            {"filterType": "WILDCARD", "filter": f} for f in filters
        ]
    return document


@pytest.mark.parametrize(
    ("document", "tag", "pinned"),
    [
        (repository(None), "v1", False),  # MUTABLE is the default
        (repository("MUTABLE"), "v1", False),
        (repository("IMMUTABLE"), "v1", True),
        (repository("IMMUTABLE"), "latest", True),
        (repository("IMMUTABLE"), None, False),  # a push by digest moves no tag
        (repository("IMMUTABLE_WITH_EXCLUSION", "dev-*", "latest"), "v1", True),
        (repository("IMMUTABLE_WITH_EXCLUSION", "dev-*", "latest"), "dev-7", False),
        (repository("IMMUTABLE_WITH_EXCLUSION", "dev-*", "latest"), "latest", False),
        (repository("IMMUTABLE_WITH_EXCLUSION", "dev-*", "latest"), "latest-1", True),  # a whole-tag match
        (repository("IMMUTABLE_WITH_EXCLUSION", "dev-*", "latest"), "my-dev-7", True),
        (repository("IMMUTABLE_WITH_EXCLUSION", "*-rc*"), "v1-rc2", False),
        (repository("MUTABLE_WITH_EXCLUSION", "release-*"), "release-1", True),
        (repository("MUTABLE_WITH_EXCLUSION", "release-*"), "latest", False),
        (repository("MUTABLE_WITH_EXCLUSION", "release-*"), None, False),
    ],
)
def test_tag_immutable(document: dict[str, Any], tag: str | None, pinned: bool) -> None:
    assert tag_immutable(document, tag) is pinned
