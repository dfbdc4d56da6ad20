from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.core.log_routes import LogRoute, decode_route, encode_route

names = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)


@given(names, names, names, st.dictionaries(names, names, max_size=3))
def test_a_route_survives_the_tag(group: str, stream: str, container: str, options: dict[str, str]) -> None:
    route = LogRoute("awslogs", "123456789012", "eu-west-1", group, stream, container, "0f" * 16, options)
    tag = encode_route(route)
    assert tag.startswith("ecsbox.") and all(c.isalnum() or c in "._-" for c in tag)
    assert decode_route(tag) == route


@pytest.mark.parametrize("tag", ["", "docker.abc", "ecsbox.", "ecsbox.!!!", "ecsbox.e30", "ecsbox.W10"])
def test_other_tags_carry_no_route(tag: str) -> None:
    assert decode_route(tag) is None
