"""Each track's state diagram, drawn from its state machine (lifecycle/stages.py) so that it
cannot drift from the code: the stages as boxes, the steps that move a case as labelled arrows,
the steps that keep it where it is listed in its box (or once, beneath, when every open stage
has them), the current stage highlighted.

The layout is a small layered one (after Sugiyama): the workflow's first stage on top, each
stage a layer below the stages that lead to it (steps back, like coaching again after a failed
evaluation, drawn upwards), long arrows led through the layers between, each layer ordered to
cross fewer arrows.
"""

from __future__ import annotations

import functools
import itertools
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from lifecycle.stages import ACCOUNT, INCUBATION, PARTY, PROJECT, RESIDENCY, ROUND, Move, Workflow
from web import labels
from web.i18n import Lang
from web.svg import (
    BLUE,
    INK,
    MUTED,
    PALE_BLUE,
    Picture,
    add,
    canvas,
    picture,
    text_width,
    tooltip,
)

GAP_X, GAP_Y, MARGIN, DUMMY = 28, 70, 20, 14
LINE = 15  # the height of a line of small text in a box


def _titles(lang: Lang) -> dict[str, str]:
    return {
        INCUBATION: lang.gettext("The incubation track's stages and steps"),
        RESIDENCY: lang.gettext("The residency track's stages and steps"),
        PARTY: lang.gettext("The party track's stages and steps"),
        ROUND: lang.gettext("A venture-philanthropy round's stages and steps"),
        PROJECT: lang.gettext("A venture-philanthropy project's stages and steps"),
        ACCOUNT: lang.gettext("An account's states and steps"),
    }


@dataclass
class Node:
    key: str  # a stage, or for a dummy the arrow it carries
    layer: int = 0
    dummy: bool = False
    lines: list[Move] = field(default_factory=list)  # the steps that keep it in this stage
    keyed: bool = False  # its key shown under its name (where the name is not the key)
    width: float = DUMMY
    height: float = 0
    x: float = 0  # the centre
    y: float = 0  # the top


@dataclass
class Arrow:
    moves: list[Move]  # the steps from one stage to another, drawn as one arrow
    chain: list[Node]  # from the upper stage to the lower one, dummies between
    upwards: bool  # a step back: drawn from the lower stage up to the upper one
    points: list[tuple[float, float]] = field(default_factory=list)  # where it is drawn


@functools.lru_cache(maxsize=256)
def state_diagram(workflow: Workflow, lang: Lang, current: str | None = None) -> Picture:
    """The diagram of `workflow` in `lang`, with `current` (a stage) highlighted. Drawn once
    for each: a declaration does not change while the process runs (and a picture is frozen)."""
    track = workflow.track
    title = _titles(lang)[track]
    if current:
        title += " · " + lang.gettext("now: {stage}").format(
            stage=labels.stage(lang, current, track)
        )
    moves = workflow.moves()
    open_stages = [s for s in workflow.stages if not workflow.is_final(s)]
    staying = [m for m in moves if m.dest in (None, m.source)]
    common = _common(staying, open_stages)
    nodes = {s: Node(s) for s in workflow.stages}
    for move in staying:
        if move.trigger not in common:
            nodes[move.source].lines.append(move)
    arrows = _arrows([m for m in moves if m.dest not in (None, m.source)], nodes, workflow.stages)
    layers = _layers(nodes, arrows)
    _measure(nodes, lang, track)
    width, height = _place(layers, arrows)
    ports = _ports(arrows)
    for i, arrow in enumerate(arrows):
        arrow.points = _points(arrow, ports[i, 0], ports[i, 1])
    legend = _legend_lines(lang, track, common, staying, workflow)
    height += LINE * len(legend) + (12 if legend else 0)
    root = canvas(width, height, title, f"diagram {track}")
    _defs(root, track)
    for arrow in arrows:
        _draw_arrow(root, arrow, lang, track, workflow.internal)
    for node in nodes.values():
        _draw_state(root, node, lang, track, node.key == current, workflow.internal)
    _labels(root, arrows, nodes, lang, track, workflow.internal, width)
    y = height - LINE * len(legend) - 4
    for text, trigger, sources in legend:
        add(
            root,
            "text",
            text,
            x=MARGIN,
            y=y,
            fill=MUTED,
            font_size=12,
            class_="stay common" if trigger else "note",
            data_trigger=trigger,
            data_sources=" ".join(sources) if trigger else None,
        )
        y += LINE
    return picture(root, title, *_table(moves, lang, track))


# ---- structure --------------------------------------------------------------------------------


def _common(staying: list[Move], open_stages: list[str]) -> list[str]:
    """The steps that keep a case where it is in every open stage (when there are several):
    listed once beneath the diagram rather than in every box."""
    sources: dict[str, set[str]] = defaultdict(set)
    for move in staying:
        sources[move.trigger].add(move.source)
    if len(open_stages) < 2:
        return []
    return [t for t, found in sources.items() if found == set(open_stages)]


def _arrows(moving: list[Move], nodes: dict[str, Node], stages: list[str]) -> list[Arrow]:
    """One arrow per pair of stages a step joins, pointing down the layers unless it is a
    step back (found by a depth-first walk from the first stage)."""
    by_pair: dict[tuple[str, str], list[Move]] = {}
    for move in moving:
        assert move.dest is not None
        by_pair.setdefault((move.source, move.dest), []).append(move)
    back = _back_edges(list(by_pair), stages)
    return [
        Arrow(
            found,
            [nodes[dest], nodes[source]] if pair in back else [nodes[source], nodes[dest]],
            pair in back,
        )
        for pair, found in by_pair.items()
        for source, dest in [pair]
    ]


def _back_edges(pairs: list[tuple[str, str]], stages: list[str]) -> set[tuple[str, str]]:
    following: dict[str, list[str]] = defaultdict(list)
    for source, dest in pairs:
        following[source].append(dest)
    back: set[tuple[str, str]] = set()
    done: set[str] = set()

    def walk(stage: str, path: list[str]) -> None:
        path.append(stage)
        for after in following[stage]:
            if after in path:
                back.add((stage, after))
            elif after not in done:
                walk(after, path)
        path.pop()
        done.add(stage)

    for stage in stages:
        if stage not in done:
            walk(stage, [])
    return back


def _layers(nodes: dict[str, Node], arrows: list[Arrow]) -> list[list[Node]]:
    """Each stage one layer below the lowest stage that leads to it; dummies in the layers a
    long arrow crosses; each layer ordered by where its neighbours are, a few sweeps."""
    above: dict[str, list[str]] = defaultdict(list)
    for arrow in arrows:
        above[arrow.chain[-1].key].append(arrow.chain[0].key)
    settled: dict[str, int] = {}

    def depth(key: str, seen: frozenset[str] = frozenset()) -> int:
        if key not in settled:
            ups = [u for u in above[key] if u not in seen]
            settled[key] = max((depth(u, seen | {key}) + 1 for u in ups), default=0)
        return settled[key]

    for node in nodes.values():
        node.layer = depth(node.key)
    layers: list[list[Node]] = [[] for _ in range(max(n.layer for n in nodes.values()) + 1)]
    for node in nodes.values():
        layers[node.layer].append(node)
    # The same step into the same stage from several stages runs down one shared trunk.
    trunks: dict[tuple[object, ...], Node] = {}
    for arrow in arrows:
        top, bottom = arrow.chain
        bundle = (*_steps_of(arrow), top.key if arrow.upwards else bottom.key, arrow.upwards)
        dummies = []
        for layer in range(top.layer + 1, bottom.layer):
            joined = (*bundle, layer)
            if joined not in trunks:
                trunks[joined] = Node(f"{bundle}:{layer}", layer, dummy=True)
                layers[layer].append(trunks[joined])
            dummies.append(trunks[joined])
        arrow.chain = [top, *dummies, bottom]
    _order(layers, arrows)
    return layers


def _steps_of(arrow: Arrow) -> tuple[str, ...]:
    return tuple(f"{m.trigger}:{m.when}" for m in arrow.moves)


def _order(layers: list[list[Node]], arrows: list[Arrow]) -> None:
    ups: dict[int, list[Node]] = defaultdict(list)
    downs: dict[int, list[Node]] = defaultdict(list)
    for arrow in arrows:
        for upper, lower in itertools.pairwise(arrow.chain):
            if upper not in ups[id(lower)]:
                ups[id(lower)].append(upper)
                downs[id(upper)].append(lower)
    for _ in range(4):
        for neighbours, sweep in ((ups, layers[1:]), (downs, list(reversed(layers[:-1])))):
            for layer in sweep:
                position = {id(n): i for other in layers for i, n in enumerate(other)}
                centres = {id(n): _centre(n, position, neighbours) for n in layer}
                layer.sort(key=lambda n: centres[id(n)])


def _centre(node: Node, position: dict[int, int], neighbours: dict[int, list[Node]]) -> float:
    found = [position[id(n)] for n in neighbours[id(node)]]
    return sum(found) / len(found) if found else position[id(node)]


# ---- geometry ---------------------------------------------------------------------------------


def _measure(nodes: dict[str, Node], lang: Lang, track: str) -> None:
    for node in nodes.values():
        name = labels.stage(lang, node.key, track)
        node.keyed = name.replace(" ", "_") != node.key
        texts = [text_width(name, 14), text_width(node.key, 11)]
        texts += [text_width("↻ " + _step(lang, track, m.trigger), 11) for m in node.lines]
        node.width = max(max(texts) + 24, 96)
        node.height = (42 if node.keyed else 28) + LINE * len(node.lines)


def _place(layers: list[list[Node]], arrows: list[Arrow]) -> tuple[float, float]:
    """Tops and centres: each layer as tall as its tallest box; each node drawn towards the
    nodes it is joined to (a few sweeps), in its layer's order and never overlapping."""
    y = MARGIN + 8.0
    for layer in layers:
        height = max((n.height for n in layer if not n.dummy), default=LINE * 2)
        for node in layer:
            node.y = y
            if node.dummy:
                node.height = height
        y += height + GAP_Y
    widest = max(sum(n.width for n in layer) + GAP_X * (len(layer) - 1) for layer in layers)
    for layer in layers:
        x = (widest - sum(n.width for n in layer) - GAP_X * (len(layer) - 1)) / 2
        for node in layer:
            node.x = x + node.width / 2
            x += node.width + GAP_X
    joined: dict[int, list[Node]] = defaultdict(list)
    for arrow in arrows:
        for upper, lower in itertools.pairwise(arrow.chain):
            joined[id(upper)].append(lower)
            joined[id(lower)].append(upper)
    for sweep in range(8):
        for layer in layers if sweep % 2 == 0 else layers[::-1]:
            wanted = [
                sum(n.x for n in joined[id(node)]) / len(joined[id(node)])
                if joined[id(node)]
                else node.x
                for node in layer
            ]
            for node, x in zip(layer, _fit(layer, wanted), strict=True):
                node.x = x
    left = min(n.x - n.width / 2 for layer in layers for n in layer)
    right = max(n.x + n.width / 2 for layer in layers for n in layer)
    for layer in layers:
        for node in layer:
            node.x += MARGIN - left
    return right - left + 2 * MARGIN, y - GAP_Y + MARGIN + 8


def _fit(layer: list[Node], wanted: list[float]) -> list[float]:
    """The centres nearest `wanted` (least squares) that keep the layer's order and gaps:
    pool-adjacent-violators on the centres less the room the nodes before each one need."""
    offsets, room = [], 0.0
    for i, node in enumerate(layer):
        if i:
            room += (layer[i - 1].width + node.width) / 2 + GAP_X
        offsets.append(room)
    blocks: list[list[float]] = []  # [sum, count] of pooled values
    for want, offset in zip(wanted, offsets, strict=True):
        blocks.append([want - offset, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted = [total / count for total, count in blocks for _ in range(int(count))]
    return [z + offset for z, offset in zip(fitted, offsets, strict=True)]


def _ports(arrows: list[Arrow]) -> dict[tuple[int, int], float]:
    """Where each arrow leaves and enters a box: spread along its edge in the order of where
    the arrows go, so that arrows sharing a box do not overlap (those running on together down
    one trunk share their place)."""
    spread: dict[tuple[int, int], float] = {}
    for side, (end, next_to) in enumerate(((0, 1), (-1, -2))):
        by_box: dict[int, dict[int, Node]] = defaultdict(dict)
        boxes: dict[int, Node] = {}
        for arrow in arrows:
            box, towards = arrow.chain[end], arrow.chain[next_to]
            boxes[id(box)] = box
            by_box[id(box)][id(towards)] = towards
        for key, neighbours in by_box.items():
            box = boxes[key]
            ordered = sorted(neighbours.values(), key=lambda n: n.x)
            place = {
                id(n): box.x + box.width * 0.6 * ((k + 1) / (len(ordered) + 1) - 0.5)
                for k, n in enumerate(ordered)
            }
            for i, arrow in enumerate(arrows):
                if id(arrow.chain[end]) == key:
                    spread[i, side] = place[id(arrow.chain[next_to])]
    return spread


def _points(arrow: Arrow, start_x: float, end_x: float) -> list[tuple[float, float]]:
    top, *dummies, bottom = arrow.chain
    points = [(start_x, top.y + top.height)]
    for dummy in dummies:
        points += [(dummy.x, dummy.y), (dummy.x, dummy.y + dummy.height)]
    points.append((end_x, bottom.y))
    return points[::-1] if arrow.upwards else points


def _path(points: list[tuple[float, float]]) -> str:
    d = [f"M{points[0][0]:.1f} {points[0][1]:.1f}"]
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        if x1 == x2:
            d.append(f"L{x2:.1f} {y2:.1f}")
        else:
            mid = (y1 + y2) / 2
            d.append(f"C{x1:.1f} {mid:.1f} {x2:.1f} {mid:.1f} {x2:.1f} {y2:.1f}")
    return " ".join(d)


def _bezier(p: tuple[float, float], q: tuple[float, float], t: float) -> tuple[float, float]:
    """A point on the curve from p to q that leaves and enters vertically."""
    mid = (p[1] + q[1]) / 2
    c1, c2 = (p[0], mid), (q[0], mid)
    u = 1 - t
    x = u**3 * p[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t**3 * q[0]
    y = u**3 * p[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t**3 * q[1]
    return x, y


# ---- drawing ----------------------------------------------------------------------------------


def _defs(root: ET.Element, track: str) -> None:
    defs = add(root, "defs")
    marker = add(
        defs,
        "marker",
        id=f"arrow-{track}",
        viewBox="0 0 10 10",
        refX=9,
        refY=5,
        markerWidth=7,
        markerHeight=7,
        orient="auto-start-reverse",
    )
    add(marker, "path", d="M0 0 L10 5 L0 10 Z", fill=INK)


def _step(lang: Lang, track: str, trigger: str) -> str:
    return labels.command_name(lang, track, trigger)


def _step_said(lang: Lang, track: str, move: Move) -> str:
    said = _step(lang, track, move.trigger)
    if move.when is True:
        said += lang.gettext(" (passes)")
    elif move.when is False:
        said += lang.gettext(" (does not pass)")
    return said


def _draw_state(
    root: ET.Element, node: Node, lang: Lang, track: str, current: bool, internal: Iterable[str]
) -> None:
    name = labels.stage(lang, node.key, track)
    group = add(root, "g", class_="state current" if current else "state", data_stage=node.key)
    box = add(
        group,
        "rect",
        x=node.x - node.width / 2,
        y=node.y,
        width=node.width,
        height=node.height,
        rx=8,
        fill=PALE_BLUE if current else "#ffffff",
        stroke=BLUE if current else INK,
        stroke_width=3 if current else 1.2,
    )
    tooltip(box, f"{name} ({lang.gettext('current stage')})" if current else name)
    add(
        group,
        "text",
        name,
        x=node.x,
        y=node.y + 19,
        text_anchor="middle",
        font_size=14,
        font_weight="bold",
    )
    if node.keyed:  # the key, as the command line spells it
        add(
            group,
            "text",
            node.key,
            x=node.x,
            y=node.y + 34,
            text_anchor="middle",
            font_size=11,
            fill=MUTED,
        )
    for i, move in enumerate(node.lines):
        add(
            group,
            "text",
            "↻ " + _step(lang, track, move.trigger),
            x=node.x - node.width / 2 + 10,
            y=node.y + (34 if node.keyed else 19) + LINE * (i + 1),
            font_size=11,
            font_style="italic" if move.trigger in internal else None,
            class_="stay",
            data_trigger=move.trigger,
            data_sources=move.source,
        )


def _draw_arrow(
    root: ET.Element, arrow: Arrow, lang: Lang, track: str, internal: Iterable[str]
) -> None:
    source, dest = arrow.moves[0].source, arrow.moves[0].dest
    assert dest is not None
    group = add(
        root,
        "g",
        class_="transition back" if arrow.upwards else "transition",
        data_source=source,
        data_dest=dest,
        data_triggers=" ".join(dict.fromkeys(m.trigger for m in arrow.moves)),
    )
    system = all(m.trigger in internal for m in arrow.moves)
    line = add(
        group,
        "path",
        d=_path(arrow.points),
        fill="none",
        stroke=INK,
        stroke_width=1.3,
        stroke_dasharray="5 3" if system else None,
        marker_end=f"url(#arrow-{track})",
    )
    steps = (
        "、".join(_step_said(lang, track, m) for m in arrow.moves)
        if lang.chinese
        else ", ".join(_step_said(lang, track, m) for m in arrow.moves)
    )
    tooltip(
        line,
        f"{labels.stage(lang, source, track)} → {labels.stage(lang, dest, track)}: {steps}",
    )


def _labels(
    root: ET.Element,
    arrows: list[Arrow],
    nodes: dict[str, Node],
    lang: Lang,
    track: str,
    internal: Iterable[str],
    width: float,
) -> None:
    """Each arrow's steps by it, where no box and no other label is; a step into the same
    stage from several stages is named once."""
    taken = [_box_of(n) for n in nodes.values()]
    named: set[tuple[str, str]] = set()
    for arrow in arrows:
        text = (" / " if not lang.chinese else "/").join(
            _step_said(lang, track, m) for m in arrow.moves
        )
        dest = arrow.moves[0].dest or ""
        if (text, dest) in named:
            continue
        named.add((text, dest))
        wide, height = text_width(text, 11) + 8, 15
        x, y = _free_spot(arrow, wide, height, taken, width)
        x = min(max(x, wide / 2 + 2), width - wide / 2 - 2)  # on the canvas whatever it costs
        taken.append((x - wide / 2, y - height / 2, x + wide / 2, y + height / 2))
        group = add(root, "g", class_="step-label")
        add(
            group,
            "rect",
            x=x - wide / 2,
            y=y - height / 2,
            width=wide,
            height=height,
            rx=3,
            fill="#ffffff",
            fill_opacity=0.9,
        )
        add(
            group,
            "text",
            text,
            x=x,
            y=y + 4,
            text_anchor="middle",
            font_size=11,
            fill=BLUE,
            font_style="italic" if all(m.trigger in internal for m in arrow.moves) else None,
        )


def _free_spot(
    arrow: Arrow,
    width: float,
    height: float,
    taken: list[tuple[float, float, float, float]],
    canvas_width: float,
) -> tuple[float, float]:
    points = arrow.points
    # the segment between two layers nearest the stage the arrow leads to: arrows fan out there
    segments = [(p, q) for p, q in itertools.pairwise(points) if p[0] != q[0] or p[1] != q[1]]
    ordered = segments[::-1] if not arrow.upwards else segments
    best, best_overlap = _bezier(*ordered[0], 0.5), float("inf")
    for p, q in ordered:
        for t in (0.5, 0.35, 0.65, 0.2, 0.8):
            x, y = _bezier(p, q, t) if p[0] != q[0] else (p[0], p[1] + (q[1] - p[1]) * t)
            box = (x - width / 2, y - height / 2, x + width / 2, y + height / 2)
            outside = max(0.0, -box[0]) + max(0.0, box[2] - canvas_width)
            overlap = sum(_overlap(box, other) for other in taken) + outside * height
            if overlap == 0:
                return x, y
            if overlap < best_overlap:
                best, best_overlap = (x, y), overlap
    return best


def _box_of(node: Node) -> tuple[float, float, float, float]:
    return (node.x - node.width / 2, node.y, node.x + node.width / 2, node.y + node.height)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _legend_lines(
    lang: Lang, track: str, common: list[str], staying: list[Move], workflow: Workflow
) -> list[tuple[str, str | None, list[str]]]:
    if not common:
        return []
    lines: list[tuple[str, str | None, list[str]]] = [
        (lang.gettext("In every open stage, without moving it:"), None, [])
    ]
    for trigger in common:
        sources = [m.source for m in staying if m.trigger == trigger]
        mark = " " + lang.gettext("(by the system)") if trigger in workflow.internal else ""
        lines.append(("↻ " + _step(lang, track, trigger) + mark, trigger, sources))
    return lines


def _table(
    moves: list[Move], lang: Lang, track: str
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    columns: tuple[str, ...] = (
        lang.gettext("From stage"),
        lang.gettext("Step"),
        lang.gettext("To stage"),
        lang.gettext("Condition"),
    )
    stays = lang.gettext("(stays)")
    condition = {True: lang.gettext("passes"), False: lang.gettext("does not pass"), None: ""}
    rows: list[tuple[str, ...]] = [
        (
            labels.stage(lang, m.source, track),
            _step(lang, track, m.trigger),
            labels.stage(lang, m.dest, track) if m.dest else stays,
            condition[m.when],
        )
        for m in moves
    ]
    return columns, rows
