"""``foot-traffic schema``: the topics' JSON Schemas and their AsyncAPI document, printed or written.

    foot-traffic schema foot_traffic              the session value's JSON Schema
    foot-traffic schema --out schemas/            TOPIC.json per topic (the writers topic's too)
    foot-traffic schema --out schemas/ --record   TOPIC.json per data topic, as Tansu reads them
    foot-traffic schema --asyncapi                the AsyncAPI 3.0 document of the topics

Topic names are the configured ones (``KAFKA_TOPIC``, ``KAFKA_TOPIC_REALISTIC`` and the owner
records' ``<KAFKA_TOPIC>_writers``); the default names are always accepted too. Nothing here
talks to Kafka.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

SCHEMA_EPILOG = """\
examples:
  foot-traffic schema foot_traffic                      the session records' JSON Schema (draft 2020-12)
  foot-traffic schema foot_traffic_realistic --record   the entry/exit record as a broker validates it
  foot-traffic schema --out schemas                     schemas/<topic>.json for each topic
  foot-traffic schema --out schemas --record            ... for each data topic, as a broker reads them
  tansu broker --schema-registry file://./schemas       ... a broker that refuses what does not match
  foot-traffic schema --asyncapi > topics.asyncapi.json the AsyncAPI 3.0 document of the topics

The owner-records topic (<KAFKA_TOPIC>_writers) is internal, described loosely: --out
--record (a broker's directory) leaves it out. See docs/schemas.md.
"""


def add_schema_parser(sub, formatter) -> None:
    schema = sub.add_parser(
        "schema", help="print the topics' JSON Schemas or their AsyncAPI document",
        description="Print a topic's value JSON Schema (draft 2020-12), write every data topic's, or print the "
        "AsyncAPI 3.0 document of the topics. Uses KAFKA_TOPIC, KAFKA_TOPIC_REALISTIC, KAFKA_BROKER and the "
        "TOPIC_* settings from the environment; talks to no broker.",
        epilog=SCHEMA_EPILOG, formatter_class=formatter,
    )
    schema.add_argument("topic", nargs="?", metavar="TOPIC", help="the topic whose value schema to print")
    schema.add_argument("--out", metavar="DIR", help="write <topic>.json for every topic into DIR (created; "
                        "with --record only the data topics)")
    schema.add_argument(
        "--record", action="store_true",
        help="wrap each schema as a schema-enforcing broker reads a topic's file (Tansu): an object whose "
        "'value' is the record's value",
    )
    schema.add_argument("--asyncapi", action="store_true", help="print the AsyncAPI 3.0 document of the topics")


def _dump(document: Any) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _fail(message: str) -> int:
    print(f"foot-traffic schema: {message}", file=sys.stderr)
    return 2


def cmd_schema(args: argparse.Namespace) -> int:
    """Exactly one of TOPIC, --out DIR, --asyncapi; exit 2 naming what is wrong."""
    from foot_traffic.contract.asyncapi import asyncapi_document
    from foot_traffic.settings import Settings, SettingsError
    from foot_traffic.contract.schemas import VALUE_SCHEMAS, record_schema, role_of, topic_schemas

    chosen = [name for name, given in (("TOPIC", args.topic is not None), ("--out", args.out is not None),
                                       ("--asyncapi", args.asyncapi)) if given]
    if len(chosen) != 1:
        return _fail(f"give exactly one of TOPIC, --out DIR or --asyncapi (got {', '.join(chosen) or 'none'})")
    if args.asyncapi and args.record:
        return _fail("--record wraps a topic's schema; the AsyncAPI document has the value schemas")
    try:
        settings = Settings.from_sources(os.environ)
    except SettingsError as exc:
        return _fail(str(exc))
    wrap = record_schema if args.record else (lambda schema: schema)
    if args.asyncapi:
        sys.stdout.buffer.write(_dump(asyncapi_document(settings)))
    elif args.topic is not None:
        try:
            role = role_of(args.topic, settings)
        except ValueError as exc:
            return _fail(str(exc))
        sys.stdout.buffer.write(_dump(wrap(VALUE_SCHEMAS[role]())))
    else:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            return _fail(f"--out {args.out}: exists and is not a directory")
        try:
            out.mkdir(parents=True, exist_ok=True)
            # A broker's directory (--record) gets the data topics only: the writers topic is internal.
            for topic, schema in topic_schemas(settings, internal=not args.record).items():
                path = out / f"{topic}.json"
                path.write_bytes(_dump(wrap(schema)))
                print(f"wrote {path}", file=sys.stderr)
        except OSError as exc:
            return _fail(f"--out {args.out}: cannot write ({exc.strerror or exc})")
    sys.stdout.flush()
    return 0
