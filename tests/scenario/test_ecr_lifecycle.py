"""Lifecycle policies as a repository lives with them: images of known ages and tags pushed on a
FakeClock into a Store on a temp SQLite file, then StartLifecyclePolicyPreview /
GetLifecyclePolicyPreview and the scheduled evaluation (RegistryHousekeeping.apply_lifecycle, with a
BlobStore in a temp dir) — both must expire exactly the images AWS's rules select (SEMANTICS §6.2):
AWS's documented worked examples, both seed policies verbatim, and what happens over days of ecsbox
time."""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import FakeClock
from ecsbox.ecr import image_repo
from ecsbox.ecr.addresses import RegistryAddresses
from ecsbox.ecr.blobs import BlobStore
from ecsbox.ecr.handling import Deps
from ecsbox.ecr.housekeeping import HousekeepingReport, RegistryHousekeeping
from ecsbox.ecr.images import Images
from ecsbox.ecr.lifecycle_policies import LifecyclePolicies
from ecsbox.ecr.manifests import digest_of
from ecsbox.ecr.repositories import Repositories
from ecsbox.store import Store

SEED = Path(os.environ.get("ECSBOX_SEED_DIR", Path(__file__).resolve().parents[3] / "shared" / "seed"))
ACCOUNT, REGION = "000000000000", "us-east-1"
PARTITION = (ACCOUNT, REGION)
REPOSITORY = "web"
DAY = 86_400.0
HOUR = 3_600.0
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
# Ahead of any real file's mtime: blobs written by the test are "old" to the collector once the
# grace period has passed on this clock.
START = 4_000_000_000.0
GC_GRACE_S = HOUR


@dataclass(frozen=True)
class Pushed:
    label: str
    digest: str
    blobs: tuple[str, ...]  # config, own layer, shared base layer


class Registry:
    """One repository of the default partition, driven through ecsbox's own handlers."""

    def __init__(self, root: Path, runner: asyncio.Runner) -> None:
        self.runner = runner
        self.store = Store(f"sqlite:///{root / 'ecsbox.db'}")
        self.store.open()
        self.clock = FakeClock(START)
        deps = Deps(self.store, self.clock, RegistryAddresses(port=4566, default=PARTITION, numbers={}))
        self.blobs = BlobStore(root / "registry")
        self.policies = LifecyclePolicies(deps)
        self.images = Images(deps, self.blobs)
        self.housekeeping = RegistryHousekeeping(
            self.store, self.clock, self.blobs, time_scale=1.0, gc_grace_s=GC_GRACE_S
        )
        self.pushed: dict[str, Pushed] = {}
        self.base_layer = self.runner.run(self.blobs.put(b"a base layer every image shares " * 64))
        self.call(Repositories(deps).create, repositoryName=REPOSITORY)

    def call(self, handler: Any, **params: Any) -> dict[str, Any]:
        ctx = RequestContext(ACCOUNT, REGION, "ecr", handler.__name__, "req-1")
        return dict(self.runner.run(handler(ctx, copy.deepcopy(params))))

    def fails(self, handler: Any, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as caught:
            self.call(handler, **params)
        return caught.value

    # ---- pushing -------------------------------------------------------------------------------

    def push(self, label: str, tags: tuple[str, ...] = ()) -> Pushed:
        """An image named ``label`` pushed now (as the registry records a push), with its own config
        and layer and the shared base layer, under each of ``tags``."""
        config = self.runner.run(self.blobs.put(json.dumps({"image": label}).encode()))
        layer = self.runner.run(self.blobs.put(f"the layer of {label} ".encode() * 100))
        blobs = (config, layer, self.base_layer)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": config,
                    "size": 1,
                },
                "layers": [{"mediaType": "x", "digest": d, "size": 1} for d in (layer, self.base_layer)],
            }
        ).encode()
        pushed = Pushed(label, digest_of(manifest), blobs)
        self._store(pushed.digest, DOCKER_MANIFEST, manifest, [(b, "blob") for b in blobs], tags, blobs)
        self.pushed[label] = pushed
        return pushed

    def push_index(self, label: str, children: list[str], tags: tuple[str, ...]) -> Pushed:
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_LIST,
                "annotations": {"build": label},
                "manifests": [
                    {"mediaType": DOCKER_MANIFEST, "digest": self.pushed[c].digest, "size": 1}
                    for c in children
                ],
            }
        ).encode()
        pushed = Pushed(label, digest_of(manifest), ())
        references = [(self.pushed[c].digest, "manifest") for c in children]
        self._store(pushed.digest, DOCKER_LIST, manifest, references, tags, ())
        self.pushed[label] = pushed
        return pushed

    def _store(
        self,
        digest: str,
        media_type: str,
        manifest: bytes,
        references: list[tuple[str, str]],
        tags: tuple[str, ...],
        blobs: tuple[str, ...],
    ) -> None:
        now, wall = self.clock.now(), self.clock.wall()

        def write(conn: Any) -> None:
            for blob in blobs:
                image_repo.link_blob(conn, PARTITION, REPOSITORY, blob, 1, wall)
            for tag in tags or (None,):
                image_repo.put_image(
                    conn,
                    PARTITION,
                    REPOSITORY,
                    digest=digest,
                    media_type=media_type,
                    manifest=manifest,
                    size_bytes=len(manifest),
                    references=references,
                    tag=tag,
                    now=now,
                    immutable=False,
                )

        self.store.write_now(write)

    def push_aged(self, table: list[tuple[str, tuple[str, ...], float]]) -> None:
        """Push each (label, tags, age in days) so that, once this returns, it is that old: oldest
        first, the clock moving forward in between."""
        end = self.clock.now() + max(age for _, _, age in table) * DAY + 1
        for label, tags, age in sorted(table, key=lambda row: -row[2]):
            self.clock.advance(end - age * DAY - self.clock.now())
            self.push(label, tags)
        self.clock.advance(end - self.clock.now())

    # ---- reading -------------------------------------------------------------------------------

    def label(self, digest: str) -> str:
        return next(label for label, pushed in self.pushed.items() if pushed.digest == digest)

    def remaining(self) -> dict[str, list[str]]:
        """label → tags of every image the repository still holds."""
        images = self.store.read_now(lambda conn: image_repo.list_images(conn, PARTITION, REPOSITORY))
        return {self.label(image.digest): sorted(image.tags) for image in images}

    def preview(self, policy_text: str | None = None, **params: Any) -> list[tuple[str, int]]:
        """StartLifecyclePolicyPreview (``policy_text``, or the stored policy) and then
        GetLifecyclePolicyPreview: (label, appliedRulePriority) of each image it would expire."""
        if policy_text is not None:
            params["lifecyclePolicyText"] = policy_text
        self.call(self.policies.start_preview, repositoryName=REPOSITORY, **params)
        answer = self.call(self.policies.get_preview, repositoryName=REPOSITORY, maxResults=1000)
        assert answer["status"] == "COMPLETE"
        assert answer["summary"] == {"expiringImageTotalCount": len(answer["previewResults"])}
        for result in answer["previewResults"]:
            assert result["action"] == {"type": "EXPIRE"}
            tags = self.remaining()[self.label(result["imageDigest"])]
            assert sorted(result.get("imageTags", [])) == tags
        return [(self.label(r["imageDigest"]), r["appliedRulePriority"]) for r in answer["previewResults"]]

    def put_policy(self, policy_text: str) -> None:
        self.call(self.policies.put, repositoryName=REPOSITORY, lifecyclePolicyText=policy_text)

    def apply(self, every_repository: bool = False) -> HousekeepingReport:
        return self.runner.run(self.housekeeping.apply_lifecycle(every_repository=every_repository))

    def blob_exists(self, digest: str) -> bool:
        return self.runner.run(self.blobs.stat(digest)) is not None

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with asyncio.Runner() as runner:
        box = Registry(tmp_path, runner)
        try:
            yield box
        finally:
            box.close()


# ---- policies ---------------------------------------------------------------------------------------------


def rule(
    priority: int, status: str, *, keep: int | None = None, days: int | None = None, **lists: list[str]
) -> Any:
    count = (
        {"countType": "imageCountMoreThan", "countNumber": keep}
        if keep is not None
        else {"countType": "sinceImagePushed", "countUnit": "days", "countNumber": days}
    )
    return {
        "rulePriority": priority,
        "description": f"rule {priority}",
        "selection": {"tagStatus": status, **lists, **count},
        "action": {"type": "expire"},
    }


def policy(*rules: Any) -> str:
    return json.dumps({"rules": list(rules)}, indent=2)


def seed(name: str) -> str:
    return (SEED / f"lifecycle-policy.{name}.json").read_text()


# AWS's worked examples (lifecycle_policy_examples, SEMANTICS §6.2): (images as (label, tags, days
# old), policy, the expiries AWS documents as (label, rule priority), in the order rules apply).
MULTIPLE_RULES = [("A", ("beta-1", "prod-1"), 10), ("B", ("beta-2", "prod-2"), 9), ("C", ("beta-3",), 8)]
DOCUMENTED = {
    "multiple rules, example A": (
        MULTIPLE_RULES,
        policy(
            rule(1, "tagged", keep=1, tagPrefixList=["prod"]),
            rule(2, "tagged", keep=1, tagPrefixList=["beta"]),
        ),
        [("A", 1)],
    ),
    "multiple rules, example A with patterns": (
        MULTIPLE_RULES,
        policy(
            rule(1, "tagged", keep=1, tagPatternList=["prod*"]),
            rule(2, "tagged", keep=1, tagPatternList=["beta*"]),
        ),
        [("A", 1)],
    ),
    "multiple rules, example B": (
        MULTIPLE_RULES,
        policy(
            rule(1, "tagged", keep=1, tagPrefixList=["beta"]),
            rule(2, "tagged", keep=1, tagPrefixList=["prod"]),
        ),
        [("A", 1), ("B", 1)],
    ),
    "multiple tags in one rule, example A": (
        [
            ("A", ("alpha-1",), 12),
            ("B", ("beta-1",), 11),
            ("C", ("alpha-2", "beta-2"), 10),
            ("D", ("alpha-3",), 4),
            ("E", ("beta-3",), 3),
            ("F", ("alpha-4", "beta-4"), 2),
        ],
        policy(rule(1, "tagged", days=5, tagPrefixList=["alpha", "beta"])),
        [("C", 1)],
    ),
    "multiple tags in one rule, example B": (
        [
            ("A", ("alpha-1", "beta-1", "gamma-1"), 10),
            ("B", ("alpha-2", "beta-2"), 9),
            ("C", ("alpha-3", "beta-3", "gamma-2"), 8),
        ],
        policy(rule(1, "tagged", keep=1, tagPatternList=["alpha*", "beta*"])),
        [("A", 1), ("B", 1)],
    ),
    "all images, example A": (
        [("A", ("alpha-1",), 4), ("B", ("beta-1",), 3), ("C", (), 2), ("D", ("alpha-2",), 1)],
        policy(rule(1, "any", keep=1)),
        [("A", 1), ("B", 1), ("C", 1)],
    ),
    # D and E are both "1 day old"; E is the newer, and not yet *more than* a day old.
    "all images, example B": (
        [
            ("A", ("alpha-1", "beta-1"), 4),
            ("B", (), 3),
            ("C", ("alpha-2",), 2),
            ("D", ("5fd0a3c",), 1 + 60 / DAY),
            ("E", (), 1 - 60 / DAY),
        ],
        policy(
            rule(1, "tagged", keep=1, tagPatternList=["alpha*"]),
            rule(2, "untagged", days=1),
            rule(3, "any", keep=1),
        ),
        [("A", 1), ("B", 2), ("D", 3)],
    ),
    "image age: prod* older than 14 days": (
        [("old", ("prod-1",), 30), ("edge", ("prod",), 15), ("new", ("prod-2",), 3), ("dev", ("dev-1",), 30)],
        policy(rule(1, "tagged", days=14, tagPatternList=["prod*"])),
        [("old", 1), ("edge", 1)],
    ),
    "image count: keep one untagged image": (
        [("u3", (), 3), ("t9", ("v1",), 9), ("u1", (), 1), ("u2", (), 2)],
        policy(rule(1, "untagged", keep=1)),
        [("u3", 1), ("u2", 1)],
    ),
}


@pytest.mark.parametrize("case", list(DOCUMENTED))
def test_preview_and_evaluation_follow_the_documented_examples(registry: Registry, case: str) -> None:
    images, text, expected = DOCUMENTED[case]
    registry.push_aged(images)
    everything = registry.remaining()
    assert registry.preview(text) == expected
    assert registry.remaining() == everything  # a preview changes nothing

    registry.put_policy(text)
    report = registry.apply()
    assert report.images_expired == len(expected)
    expired = {label for label, _ in expected}
    assert registry.remaining() == {label: tags for label, tags in everything.items() if label not in expired}
    # Applied again at once, the policy finds nothing more: what it keeps, it keeps.
    assert registry.preview() == []
    assert registry.apply(every_repository=True).images_expired == 0


# ---- the seed policies, verbatim ---------------------------------------------------------------------------

# (label, tags, days old, the rule that expires it or None)
PROD_STAGE_DEV = [
    ("prod-old", ("prod-1",), 120, 1),
    ("prod-edge", ("prod-2",), 100, None),  # exactly 100 days: not *older than* 100 days
    ("prod-just-over", ("prod-3",), 100 + 1 / DAY, 1),
    ("prod-new", ("prod-4",), 5, None),
    ("production", ("production-1",), 140, 1),  # "prod" is a prefix of "production"
    ("stage-and-dev-old", ("stage-1", "dev-1"), 11, 2),
    ("stage-and-dev-new", ("stage-2", "dev-2"), 9, None),
    ("stage-only", ("stage-3",), 50, None),  # rule 2 needs a stage* tag *and* a dev* tag
    ("dev-only", ("dev-3",), 50, None),
    ("prod-stage-dev-young", ("prod-5", "stage-5", "dev-5"), 50, None),  # rule 1 selected it; rule 2 may not
    ("prod-stage-dev-old", ("prod-6", "stage-6", "dev-6"), 150, 1),
    ("untagged", (), 365, None),
    ("latest", ("latest",), 365, None),
]


def test_seed_prod_stage_dev(registry: Registry) -> None:
    registry.push_aged([(label, tags, age) for label, tags, age, _ in PROD_STAGE_DEV])
    ages = {label: age for label, _, age, _ in PROD_STAGE_DEV}
    expected = sorted(
        ((label, rule_) for label, _, _, rule_ in PROD_STAGE_DEV if rule_ is not None),
        key=lambda row: (row[1], -ages[row[0]]),  # rule by rule, oldest first
    )
    text = seed("prod-stage-dev")
    assert registry.preview(text) == expected
    registry.put_policy(text)
    assert registry.apply().images_expired == len(expected)
    assert sorted(registry.remaining()) == sorted(
        label for label, _, _, rule_ in PROD_STAGE_DEV if rule_ is None
    )


def test_seed_untagged_10_days_over_three_weeks(registry: Registry) -> None:
    text = seed("untagged-10-days")
    registry.put_policy(text)
    registry.push_aged([("u-11", (), 11), ("u-10", (), 10), ("u-3", (), 3), ("v1-40", ("v1",), 40)])
    assert registry.preview() == [("u-11", 1)]  # the stored policy
    assert registry.apply().images_expired == 1
    assert registry.remaining() == {"v1-40": ["v1"], "u-10": [], "u-3": []}

    # A tag moved away leaves an untagged image behind; it ages like any other.
    registry.push("v1-new", ("v1",))
    assert registry.remaining()["v1-40"] == []
    for _ in range(21):
        registry.clock.advance(DAY)
        registry.apply()
    assert registry.remaining() == {"v1-new": ["v1"]}


# ---- over time ------------------------------------------------------------------------------------------------


def test_an_expired_image_is_gone_for_good_and_its_blobs_are_collected(registry: Registry) -> None:
    registry.put_policy(seed("untagged-10-days"))
    registry.push_aged([("old", (), 11), ("kept", ("v1",), 11)])
    old, kept = registry.pushed["old"], registry.pushed["kept"]
    report = registry.apply()
    assert (report.images_expired, registry.remaining()) == (1, {"kept": ["v1"]})
    # Its own blobs are freed; the layer it shared with a surviving image is not.
    assert report.blobs_removed == 2
    assert not registry.blob_exists(old.blobs[0]) and not registry.blob_exists(old.blobs[1])
    assert all(registry.blob_exists(blob) for blob in kept.blobs)

    # Nothing brings it back: not another evaluation, not a day later, not the API.
    for _ in range(3):
        registry.clock.advance(DAY)
        assert registry.apply(every_repository=True).images_expired == 0
    assert registry.remaining() == {"kept": ["v1"]}
    error = registry.fails(
        registry.images.describe, repositoryName=REPOSITORY, imageIds=[{"imageDigest": old.digest}]
    )
    assert error.code == "ImageNotFoundException"
    got = registry.call(
        registry.images.batch_get, repositoryName=REPOSITORY, imageIds=[{"imageDigest": old.digest}]
    )
    assert [f["failureCode"] for f in got["failures"]] == ["ImageNotFound"]


def test_the_evaluation_runs_again_only_after_24_hours(registry: Registry) -> None:
    registry.push_aged([("u-11", (), 11), ("u-9.75", (), 9.75)])
    registry.put_policy(seed("untagged-10-days"))
    first = registry.apply()  # a new policy is due at once
    assert (first.repositories, first.images_expired) == (1, 1)
    assert registry.remaining() == {"u-9.75": []}
    evaluated = registry.call(registry.policies.get, repositoryName=REPOSITORY)["lastEvaluatedAt"]
    assert evaluated == registry.clock.now()

    # 12 hours on, u-9.75 is over 10 days old, but the policy is not due yet.
    registry.clock.advance(12 * HOUR)
    assert registry.preview() == [("u-9.75", 1)]
    report = registry.apply()
    assert (report.repositories, report.images_expired) == (0, 0)
    registry.clock.advance(12 * HOUR - 1)
    assert registry.apply().images_expired == 0
    assert registry.remaining() == {"u-9.75": []}
    # 24 hours after the last evaluation, it runs.
    registry.clock.advance(1)
    report = registry.apply()
    assert (report.repositories, report.images_expired) == (1, 1)
    assert registry.remaining() == {}
    assert registry.call(registry.policies.get, repositoryName=REPOSITORY)["lastEvaluatedAt"] == (
        registry.clock.now()
    )

    # On demand (ecsbox's CLI / operator endpoint), it runs whenever asked.
    registry.push_aged([("u-12", (), 12)])
    assert registry.apply(every_repository=True).images_expired == 1


def test_deleting_the_policy_stops_the_expiry(registry: Registry) -> None:
    registry.push_aged([("u-5", (), 5), ("u-8", (), 8)])
    registry.put_policy(seed("untagged-10-days"))
    assert registry.apply().images_expired == 0
    registry.call(registry.policies.delete, repositoryName=REPOSITORY)
    registry.clock.advance(30 * DAY)
    for every_repository in (False, True):
        report = registry.apply(every_repository)
        assert (report.repositories, report.images_expired) == (0, 0)
    assert registry.remaining() == {"u-5": [], "u-8": []}
    error = registry.fails(registry.policies.start_preview, repositoryName=REPOSITORY)
    assert error.code == "LifecyclePolicyNotFoundException"
    # Put back, it applies at once.
    registry.put_policy(seed("untagged-10-days"))
    assert registry.apply().images_expired == 2


def test_a_higher_rule_protects_what_it_selects_even_as_the_repository_changes(registry: Registry) -> None:
    """Example A of "multiple rules", then more pushes: each evaluation sees the repository as it is."""
    text = policy(
        rule(1, "tagged", keep=1, tagPrefixList=["prod"]), rule(2, "tagged", keep=1, tagPrefixList=["beta"])
    )
    registry.put_policy(text)
    registry.push_aged(MULTIPLE_RULES)
    assert registry.apply().images_expired == 1
    assert registry.remaining() == {"B": ["beta-2", "prod-2"], "C": ["beta-3"]}
    registry.clock.advance(DAY)
    registry.push("D", ("beta-4",))
    registry.clock.advance(DAY)
    registry.push("E", ("prod-3",))
    # rule 1 (prod, keep 1): B goes, E stays; rule 2 (beta, keep 1): B, C, D → C goes (B is rule 1's), D stays.
    assert registry.preview() == [("B", 1), ("C", 2)]
    assert registry.apply().images_expired == 2
    assert registry.remaining() == {"D": ["beta-4"], "E": ["prod-3"]}


def test_the_children_of_a_manifest_list_go_only_with_it(registry: Registry) -> None:
    """A multi-arch image: a tagged list over untagged children. An untagged rule selects the children,
    but a list still in the repository needs them; once the list goes, they may go too, in the same
    evaluation, and the preview says so beforehand."""
    registry.push_aged([("amd64", (), 20), ("arm64", (), 20), ("stray", (), 20)])
    registry.push_index("multi", ["amd64", "arm64"], ("v1",))
    registry.clock.advance(DAY)
    text = seed("untagged-10-days")
    assert registry.preview(text) == [("stray", 1)]
    registry.put_policy(text)
    assert registry.apply().images_expired == 1
    assert registry.remaining() == {"amd64": [], "arm64": [], "multi": ["v1"]}

    # The list's tag goes (a newer build takes it): the list is untagged now, and all three expire.
    registry.call(registry.images.batch_delete, repositoryName=REPOSITORY, imageIds=[{"imageTag": "v1"}])
    assert registry.remaining() == {"amd64": [], "arm64": []}  # deleting the tag deleted the list
    registry.push_index("multi-2", ["amd64", "arm64"], ())
    registry.clock.advance(11 * DAY)
    expected = [("amd64", 1), ("arm64", 1), ("multi-2", 1)]
    assert registry.preview() == expected
    assert registry.apply(every_repository=True).images_expired == 3
    assert registry.remaining() == {}
