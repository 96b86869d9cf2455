"""Enhanced multi-frame CT: a legacy-converted copy of a single-frame CT series."""

from __future__ import annotations

from radcurate.demo.dataset import fill_study_attributes, make_deterministic, series_time
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.population import make_uid
from radcurate.demo.sink import WriteContext
from radcurate.optional import import_optional

__all__ = ["write_enhanced"]


def write_enhanced(
    ctx: WriteContext, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, keep: bool
) -> None:
    """Write a Legacy Converted Enhanced CT Image built by highdicom from the referenced series."""
    legacy = import_optional("highdicom.legacy", "writing an enhanced multi-frame demo object")
    sources = ctx.kept[series.refs[0]]
    obj = legacy.LegacyConvertedEnhancedCTImage(
        legacy_datasets=sources,
        series_instance_uid=series.uid,
        series_number=series.number,
        sop_instance_uid=make_uid(ctx.seed, series.uid, "instance", 0),
        instance_number=1,
    )
    obj.SeriesDescription = series.description
    fill_study_attributes(obj, patient, study, series)
    make_deterministic(obj, series.uid, study.date.strftime("%Y%m%d"), series_time(study, series))
    ctx.sink.write(obj, patient, study, series)
    source = study.series[series.refs[0]].uid
    ctx.findings.append(("enhanced_same_pixels", series.uid, source))
    ctx.findings.append(("enhanced_source_same_pixels", source, series.uid))
