"""Every curation action leaves one audit row: who, when, what, the selection as given, count."""

from __future__ import annotations

import getpass
import time

from radcurate.catalog import open_catalog
from radcurate.catalog.curation import Selection
from tests.curation.corpus import uid, write_series


def test_every_action_is_audited(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        write_series(catalog, 9)
        start = time.time()
        sel = Selection.of("Modality:CT", include=[uid(1)], exclude=[uid(0)])
        catalog.create_tag("t", "#123456")
        catalog.update_tag("t", new_name="u")
        catalog.tag_series("u", sel)
        catalog.untag_series("u", sel, actor="bob")
        catalog.delete_tag("u")
        catalog.create_dataset("d")
        catalog.update_dataset("d", description="about d")
        catalog.add_to_dataset("d", sel)
        catalog.freeze_dataset("d", note="n")
        catalog.remove_from_dataset("d", sel)
        catalog.delete_dataset("d", force=True)
        stored = catalog.create_selection(sel)
        catalog.set_user_settings({"card_fields": ["Modality"]}, user="carol")
        log = list(reversed(catalog.audit_log(100)))
        assert [e.action for e in log] == [
            "tag.create",
            "tag.update",
            "tag.add",
            "tag.remove",
            "tag.delete",
            "dataset.create",
            "dataset.update",
            "dataset.add",
            "dataset.freeze",
            "dataset.remove",
            "dataset.delete",
            "selection.create",
            "settings.update",
        ]
        me = getpass.getuser()
        assert [e.actor for e in log].count("bob") == 1
        assert log[-1].actor == "carol"
        assert all(e.actor == me for e in log if e.action not in ("tag.remove", "settings.update"))
        assert all(start <= e.at <= time.time() for e in log)
        given = {"query": "Modality:CT", "include": [uid(1)], "exclude": [uid(0)]}
        for entry in log:
            if entry.action in ("tag.add", "tag.remove", "dataset.add", "dataset.remove"):
                assert entry.selection == given
                assert entry.series_count == 3  # 3 CT + 1 included - 1 excluded
        assert log[1].target == "t" and log[1].detail == {"new_name": "u"}
        assert log[8].detail["version"] == 1 and log[8].series_count == 3
        assert log[11].target == stored.id
        assert [e.action for e in catalog.audit_log(5, action="tag.add")] == ["tag.add"]
        assert len(catalog.audit_log(100, target="d")) == 6
        assert len(catalog.audit_log(2)) == 2
