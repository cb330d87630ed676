"""Generated 4D hearts (``heart_4d``, seed 001 chapter 6) in the scene: the phenotype table of one or two profiles and
two generated hearts side by side.

* :func:`phenotype_table` — a table node with one row per phenotype (LVEDV, LVESV, LVEF, LV mass, RVEDV, RVESV, measured
  on the generated masks) and per condition (age, sex, height, ...), one column per generated heart: the phenotypes of
  two profiles read side by side. Marked synthetic.
* :func:`compare_hearts` — the earlier heart in the first compare view, the new one in the second (one orientation and
  zoom, linked), the new heart's image and surface sequences synchronised with the earlier heart's browser, so both
  cycles play together.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from . import mrml_bridge as mb
from . import mrml_compare as mc

def _rows() -> list[tuple[str, str, str, str]]:
    """(provenance key, row label, unit, provenance part) of the phenotype rows, then of the condition rows."""
    from cardiogen.models.conditions import FACTORS, PHENOTYPE_LABELS

    return ([(k, name, unit, "phenotypes") for k, (_, name, unit) in PHENOTYPE_LABELS.items()]
            + [(f.name, f.label, f.unit, "conditioning") for f in FACTORS])


def _text(value: Any, key: str) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool) or key == "smoking":
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    value = float(value)
    return "n/a" if value != value else f"{value:.1f}"


def phenotype_table(hearts: Sequence[tuple[str, dict]], name: str = "CardioGen 4D hearts phenotypes",
                    scene: Any = None, table: Optional[Any] = None) -> Any:
    """A table node (new, or ``table`` refilled): rows = phenotypes then conditions, columns = "Measure", "Unit" and
    one per ``(column title, segmentation provenance)`` in ``hearts`` (provenance with ``phenotypes`` and
    ``conditioning`` as ``heart_4d`` writes them)."""
    import vtk

    scn = mb._scene(scene)
    if table is None:
        table = scn.AddNewNodeByClass("vtkMRMLTableNode", mb.node_name(name, True))
    vt = table.GetTable()
    vt.Initialize()
    rows = _rows()
    columns = [("Measure", [r[1] for r in rows]), ("Unit", [r[2] for r in rows])]
    for title, provenance in hearts:
        columns.append((title, [_text((provenance.get(part) or {}).get(k), k) for k, _, _, part in rows]))
    for title, values in columns:
        col = vtk.vtkStringArray()
        col.SetName(title)
        for v in values:
            col.InsertNextValue(v)
        vt.AddColumn(col)
    table.Modified()
    mb._mark(table, "table", True)
    return table


def compare_hearts(earlier: Any, later: Any, scene: Any = None) -> list:
    """Two generated hearts side by side: ``earlier`` / ``later`` are ``(image SeriesNodes, surfaces SeriesNodes)``;
    the later heart's sequences follow the earlier heart's browser (same frame times). Returns the two slice nodes."""
    (img_a, _), (img_b, seg_b) = earlier, later
    browser = img_a.browser
    if browser is not None:
        for series in (img_b, seg_b):
            if series is None or series.sequence is None:
                continue
            browser.AddSynchronizedSequenceNode(series.sequence)
            if series.volume is not None:
                browser.AddProxyNode(series.volume, series.sequence, False)
        mb.sequences_logic().UpdateProxyNodesFromSequences(browser)
    views = mc.show_side_by_side(img_a.volume, img_b.volume, scene)
    mc.play_together(browser)
    return views
