"""`tcat site build OUT` / `tcat site serve DIR`: a self-contained offline website of the catalog
(no CDN, no network).

Pages are jinja2 templates (catalog/templates/, package data) rendered with autoescape, so every
catalog string is text, never markup. Links are checked at render time, whatever the data went
through: only http(s) and relative URLs become live links; anything else (javascript:, data:,
protocol-relative, control characters) is shown as inert text. The page script only filters and
sorts rows that already exist (it reads data-* attributes and never writes HTML).

Writing goes through files.py: OUT must be new, empty, tcat's own (marked) or forced; tcat
rewrites the files it generates there and never deletes anything else. Serving answers only
regular files inside the folder (no symlinks out of it, no directory listings).
"""

from __future__ import annotations

import os
import stat
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import __version__
from ..errors import TcatError
from ..files import output_dir, write_bytes
from .attention_page import attention_pages
from .changes import changes_page
from .charts import TRENDS, catalog_pictures
from .load import slug
from .pagefacts import FAMILY_COLUMNS, family_rows, lineage_rows, model_facts, runs_by_root
from .query import human, size_range
from .text import safe_url
from .vocab import ARCHITECTURES, TASKS

TEMPLATES = Path(__file__).parent / "templates"
ASSETS = ("style.css", "app.js")
NAV = [
    ("index.html", "Models"),
    ("tree.html", "Family tree"),
    ("timeline.html", "Timeline"),
    ("sizes.html", "Sizes"),
    ("charts.html", "Trends"),
    ("taxonomy.html", "Taxonomy"),
    ("changes.html", "Changes"),
    ("attention.html", "Attention"),
    ("lineage.html", "Lineage"),
    ("claims.html", "Claims"),
]


def _env():
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )

    def link(url, label):
        ok = safe_url(url)
        if ok is None:  # shown, not followed: the reader sees what the data says
            return Markup('<span class="inert-url" title="not a web link">{} ({})</span>').format(label, url)
        return Markup('<a href="{}">{}</a>').format(ok, label)

    env.globals.update(
        link=link,
        slug=slug,
        human=human,
        size_range=size_range,
        version=__version__,
        nav=NAV,
        architectures=ARCHITECTURES,
    )
    return env


def _search_text(e) -> str:
    return " ".join(
        [
            e.name,
            *e.aliases,
            e.family,
            e.extension,
            e.corpus,
            *e.applications,
            *e.lab,
            e.architecture,
            *e.pretraining_tasks,
            e.references.title,
        ]
    ).lower()


def render_pages(catalog, claims=(), lineage_of=None) -> dict[str, str]:
    """{relative path: text} of every file of the site. `claims`: [(experiment results, {figure: bytes})],
    shown on claims.html and, for the experiments of a lineage row, on that root's page (the figures
    themselves are written by build_site). `lineage_of`: {experiment name: lineage root or None}
    (the experiments registry's `lineage`); without it a result's own "lineage" field is read."""
    from markupsafe import Markup

    env = _env()
    pages = {f"assets/{name}": (TEMPLATES / "assets" / name).read_text(encoding="utf-8") for name in ASSETS}
    entries = sorted(catalog.entries, key=lambda e: (e.date, e.name))
    pages["index.html"] = env.get_template("index.html").render(
        title="Models", root="", entries=entries, families=sorted({e.family for e in entries}), search_text=_search_text
    )
    model = env.get_template("model.html")
    families: dict[str, list] = {}
    for e in entries:  # oldest first
        families.setdefault(e.family, []).append(e)
    roots_of: dict[str, list[str]] = {}  # entry name -> the lineage roots that lead to it
    for r in catalog.lineage:
        for n in r.leads_to:
            if catalog.find(n) is not None:
                roots_of.setdefault(catalog.find(n).name, []).append(r.name)
    children: dict[str, list] = {}  # parent's name -> its descendants, oldest first (a parent named by alias too)
    for e in entries:
        for p in e.derived_from:
            parent = catalog.find(p)
            if parent is not None and e not in children.setdefault(parent.name, []):
                children[parent.name].append(e)
    cells: dict[str, list[str]] = {}
    for e in catalog.entries:
        r = e.references
        ref_links = [
            (label, u)
            for label, u in (
                ("paper", r.paper),
                ("arXiv", r.arxiv and f"https://arxiv.org/abs/{r.arxiv}"),
                ("docs", r.docs),
            )
            if u
        ]
        pages[f"models/{slug(e.name)}.html"] = model.render(
            title=e.name,
            root="../",
            e=e,
            find=catalog.find,
            children=children.get(e.name, []),
            ref_links=ref_links,
            facts=model_facts(e),
            family=family_rows(families[e.family], e, cells),
            lineage_roots=roots_of.get(e.name, []),
            family_columns=FAMILY_COLUMNS,
        )
    picture = env.get_template("picture.html")
    # the pictures escape every string they place in the SVG and link only to models/ and lineage/ pages
    pictures = catalog_pictures(catalog, link_prefix="models/", root_prefix="lineage/")
    for name, (title, svg) in pictures.items():
        pages[f"{name}.svg"] = svg
        if name in ("tree", "timeline", "sizes"):
            pages[f"{name}.html"] = picture.render(title=title, root="", name=name, svg=Markup(svg))
    trends = [(name, title, Markup(pictures[name][1])) for name, title, _ in TRENDS]
    pages["charts.html"] = env.get_template("charts.html").render(title="Trends", root="", charts=trends)
    runs = runs_by_root(claims, lineage_of)
    roots = lineage_rows(catalog, runs)
    pages["lineage.html"] = env.get_template("lineage.html").render(title="Lineage", root="", roots=roots)
    root_page = env.get_template("lineage_root.html")
    for row in roots:
        pages[f"lineage/{row.slug}.html"] = root_page.render(title=row.root.name, root="../", row=row)
    rows = [
        (
            task,
            [
                sorted(e.name for e in catalog.entries if e.architecture == a and task in e.pretraining_tasks)
                for a in ARCHITECTURES
            ],
        )
        for task in TASKS
    ]
    pages["taxonomy.html"] = env.get_template("taxonomy.html").render(title="Taxonomy", root="", rows=rows)
    # the architecture changes each buildable entry's built config uses (changes.py; configs cached by digest)
    pages["changes.html"] = changes_page(env, catalog)
    pages.update(attention_pages(env))  # the real MiniLM's attention maps, shipped as data (no torch here)
    pages["claims.html"] = env.get_template("claims.html").render(
        title="Demonstrated claims", root="", claims=[(r, sorted(figs), slug(r["name"])) for r, figs in claims]
    )
    return pages


def _subdir(out: Path, name: str) -> Path:
    """A folder inside the site folder; a link, file or device under that name is refused."""
    path = out / name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        try:
            path.mkdir()
        except OSError as e:
            raise TcatError(f"{path}: cannot create folder ({e.strerror})") from None
        return path
    if not stat.S_ISDIR(st.st_mode):
        raise TcatError(f"{path}: exists and is not a folder; tcat will not write the site through it")
    return path


def build_site(catalog, out: str | Path, *, force: bool = False, claims=(), lineage_of=None) -> Path:
    """Write the site into `out`: a new or empty folder, one tcat wrote before, or any folder with
    `force`. Each file is written atomically; files tcat did not generate are left alone.
    `claims`: experiments' results and figures for claims.html and the lineage pages
    (experiments.shipped_results()); `lineage_of`: {experiment name: lineage root}, see render_pages."""
    out = output_dir(out, force=force)
    pages = render_pages(catalog, claims, lineage_of)
    for folder in sorted({p.split("/")[0] for p in pages if "/" in p}):
        _subdir(out, folder)
    files = [(out / rel, text.encode("utf-8")) for rel, text in pages.items()]
    for results, figs in claims:  # figure names are plain file names (experiments/render.figures)
        folder = _subdir(_subdir(out, "claims"), slug(results["name"]))
        files += [(folder / name, data) for name, data in figs.items()]
    # Each write is atomic and fsync'd (files.py); a disk makes each fsync wait for its journal
    # commit, and concurrent ones share commits: 240 pages take 3 s one by one on a busy disk,
    # 0.2 s from 8 threads. The first error (a link, a folder in the way) is raised as usual.
    with ThreadPoolExecutor(8) as pool:
        for _ in pool.map(lambda f: _write(*f), files):
            pass
    return out


def _write(path: Path, data: bytes) -> None:
    """write_bytes, skipped where a regular file (not a link) already holds exactly `data`: a
    rebuild then costs reads instead of two fsyncs per page."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        fd = None
    if fd is not None:
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISREG(st.st_mode) and st.st_size == len(data) and f.read(len(data) + 1) == data:
                return
    write_bytes(path, data)


# -- serving --------------------------------------------------------------------------------------


def _handler(root: str):
    import http.server

    class Handler(http.server.SimpleHTTPRequestHandler):
        """Regular files inside `root` only: no listings, no symlinks leading out, no fifos."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=root, **kwargs)

        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            pass

        def list_directory(self, path):
            self.send_error(404, "Not found")
            return None

        def send_head(self):
            path = self.translate_path(self.path)
            if os.path.isdir(path):
                if not urllib.parse.urlsplit(self.path).path.endswith("/"):
                    return super().send_head()  # the redirect to "dir/"
                path = os.path.join(path, "index.html")
            real = os.path.realpath(path)
            if real != root and not real.startswith(root + os.sep):
                self.send_error(404, "Not found")
                return None
            try:
                fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK)
            except OSError:
                self.send_error(404, "Not found")
                return None
            f = os.fdopen(fd, "rb")
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                f.close()
                self.send_error(404, "Not found")
                return None
            os.set_blocking(fd, True)
            self.send_response(200)
            self.send_header("Content-type", self.guess_type(real))
            self.send_header("Content-Length", str(st.st_size))
            self.send_header("Last-Modified", self.date_time_string(st.st_mtime))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            return f

    return Handler


def make_server(folder: str | Path, port: int = 0, host: str = "127.0.0.1"):
    """A bound (not yet serving) HTTP server for `folder`; `server.server_address[1]` is the port
    actually bound (the one to report when 0 asked for any free port). OSError if it cannot bind."""
    import http.server

    root = os.path.realpath(folder)
    if not os.path.isdir(root):
        raise TcatError(f"{folder}: not a folder; build the site first (tcat site build {folder})")
    return http.server.ThreadingHTTPServer((host, port), _handler(root))


def _say(line: str) -> None:
    print(line, flush=True)  # at once, even into a pipe: whoever started us is waiting for the port


def serve(folder: str | Path, port: int = 8000, *, announce=_say) -> int:
    """Serve `folder` on 127.0.0.1 until interrupted. `announce` gets the line naming the URL with
    the port actually bound, before serving starts. Returns that port once stopped (Ctrl-C)."""
    with make_server(folder, port) as httpd:
        bound = httpd.server_address[1]
        announce(f"serving {folder} at http://127.0.0.1:{bound}/ (Ctrl-C to stop)")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    return bound
