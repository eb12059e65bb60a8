"""Renders Jinja2 templates the way Hugging Face's apply_chat_template does (transformers' chat template utils):
an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, loop controls and the generation tag, tojson as
json.dumps(ensure_ascii=False, ...), raise_exception and strftime_now. Reads {"now": ISO time, "cases": [{"template":
text, "vars": {...}}]} from the JSON file named by the first argument; prints one JSON list: {"text": ...} or {"error": type, "message": ...} per case."""
import datetime
import json
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(Extension):
    # Hugging Face's {% generation %} block (it marks assistant tokens; the text renders unchanged).
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    now = datetime.datetime.fromisoformat(request["now"])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now

    results = []
    for case in request["cases"]:
        try:
            results.append({"text": env.from_string(case["template"]).render(**case["vars"])})
        except Exception as e:  # the test compares the failure, not only the text
            results.append({"error": type(e).__name__, "message": str(e)})
    json.dump(results, sys.stdout, ensure_ascii=True)


main()
