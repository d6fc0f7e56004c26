"""Feed-list loading: YAML or OPML, from a local path or ``gs://``, validated before the run.

A broken feed list should stop the job before any worker starts, with a message that says what
to fix; everything here raises ``FeedListError`` with that message.
"""

from __future__ import annotations

from transforms.records import FeedSource


class FeedListError(ValueError):
    """The feed list cannot be used; the message says why and how to fix it."""


def _read(path: str) -> bytes:
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(path) as handle:
            return handle.read()
    except Exception as err:
        raise FeedListError(f"cannot read the feed list {path!r}: {err}") from err


def _source(item: object, where: str) -> FeedSource:
    if isinstance(item, str):
        item = {"url": item}
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        raise FeedListError(f"{where}: each feed needs a 'url' (got {item!r})")
    url = item["url"].strip()
    if not url.startswith(("http://", "https://")):
        raise FeedListError(f"{where}: feed url must be http(s), got {url!r}")
    kind = item.get("kind", "feed")
    if kind not in ("feed", "sitemap"):
        raise FeedListError(f"{where}: kind must be 'feed' or 'sitemap', got {kind!r}")
    tags = item.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    return FeedSource(
        url=url,
        name=str(item.get("name") or ""),
        kind=kind,
        language=item.get("language"),
        tags=tuple(str(t) for t in tags if str(t).strip()),
        poll_minutes=int(item.get("poll_minutes", 60)),
    )


def parse_yaml(data: bytes, path: str = "feed list") -> list[FeedSource]:
    import yaml

    try:
        loaded = yaml.safe_load(data)
    except yaml.YAMLError as err:
        raise FeedListError(f"{path} is not valid YAML: {err}") from err
    items = loaded.get("feeds") if isinstance(loaded, dict) else loaded
    if not isinstance(items, list) or not items:
        raise FeedListError(f"{path}: expected a list of feeds under 'feeds:'")
    return [_source(item, f"{path} feed #{i + 1}") for i, item in enumerate(items)]


def parse_opml(data: bytes, path: str = "feed list") -> list[FeedSource]:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise FeedListError(f"{path} is not valid OPML/XML: {err}") from err
    sources = []
    for i, outline in enumerate(root.iter("outline")):
        url = outline.get("xmlUrl")
        if not url:
            continue
        category = outline.get("category") or ""
        sources.append(
            _source(
                {
                    "url": url,
                    "name": outline.get("title") or outline.get("text") or "",
                    "language": outline.get("language"),
                    "tags": [c.strip("/ ") for c in category.split(",") if c.strip("/ ")],
                },
                f"{path} outline #{i + 1}",
            )
        )
    if not sources:
        raise FeedListError(f"{path}: no <outline xmlUrl=...> entries found")
    return sources


def load_feed_list(path: str) -> list[FeedSource]:
    data = _read(path)
    looks_xml = data.lstrip().startswith(b"<")
    sources = (
        parse_opml(data, path) if path.endswith(".opml") or looks_xml else parse_yaml(data, path)
    )
    seen: set[str] = set()
    unique = []
    for source in sources:
        if source.url not in seen:
            seen.add(source.url)
            unique.append(source)
    return unique
