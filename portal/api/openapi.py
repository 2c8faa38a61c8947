"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json and rendered as the
reference page /api/v1/reference.

Written by hand beside the endpoints it describes (docs/api.md says the same in prose);
tests/test_openapi.py checks every route of the API blueprint is described, and schemathesis
(in .ci/run) drives a running portal with it: no 5xx, every answer matching its schema.
"""

from __future__ import annotations

from search_index import FACETS

# The examples are demo items, so a checker driving the demo portal reaches real ones.
EXAMPLE_SLUGS = ["business-case-template-revenue-project", "roi-calculator-workbook"]
SLUG = {"type": "string", "pattern": "^[a-z0-9-]{1,120}$", "description": "an item's slug",
        "examples": EXAMPLE_SLUGS}
DATE = {"type": "string", "format": "date"}
RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
INTERVAL = {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 2,
            "maxItems": 2, "description": "95% Wilson interval [low, high]; null with the rate"}
STRINGS = {"type": "array", "items": {"type": "string"}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


# Every endpoint may answer these: no caller, a function the role may not use, too many calls.
COMMON_ERRORS = {
    "401": _error("No session and no bearer token."),
    "403": _error("The caller's role may not use this function."),
}
NOT_FOUND = {"404": _error("No such item, or one the caller may not see (the same answer).")}
BAD_INPUT = {"400": _error("A parameter or field is malformed; the message names it.")}

PERIOD = [
    {"name": "from", "in": "query", "required": False, "schema": DATE,
     "description": "first day, inclusive (default: 29 days before `to`)"},
    {"name": "to", "in": "query", "required": False, "schema": DATE,
     "description": "last day, inclusive (default: today)"},
]


def _tag_filter(name: str) -> dict:
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": True,
            "schema": {"type": "array", "items": {"type": "string", "maxLength": 120},
                       "maxItems": 50},
            "description": f"{name} slugs; repeated values are OR, different facets AND"}


SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string"}, "request_id": {"type": "string"}},
    },
    "Card": {
        "type": "object",
        "required": ["slug", "title", "summary", "type", "audience", "stages", "stakeholders",
                     "solutions", "verticals", "highlight", "score"],
        "properties": {
            "slug": {"type": "string"}, "title": {"type": "string"},
            "summary": {"type": "string"}, "type": {"type": "string"},
            "audience": {"enum": ["internal", "external"]},
            "stages": STRINGS, "stakeholders": STRINGS, "solutions": STRINGS,
            "verticals": STRINGS,
            "highlight": {"type": "string", "description": "HTML: only <mark> tags"},
            "score": {"type": ["number", "null"]},
            "missing": STRINGS, "reasons": STRINGS,
        },
    },
    "SearchAnswer": {
        "type": "object",
        "required": ["total", "page", "per_page", "match", "results", "facets", "suggestion"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
            "match": {"enum": ["all", "some", "corrected"]},
            "results": {"type": "array", "items": _ref("Card")},
            "facets": {
                "type": "object", "required": list(FACETS),
                "properties": {f: {"type": "object",
                                   "additionalProperties": {"type": "integer"}}
                               for f in FACETS},
            },
            "suggestion": {"type": ["string", "null"]},
        },
    },
    "Stage": {
        "type": "object",
        "required": ["slug", "name", "phase", "forecast_category", "buyer_goal",
                     "exit_criteria", "count"],
        "properties": {
            "slug": {"type": "string"}, "name": {"type": "string"},
            "phase": {"enum": ["conversations", "funded-project", "vendor-of-choice", "closed"]},
            "forecast_category": {"type": "string"}, "buyer_goal": {"type": "string"},
            "exit_criteria": STRINGS, "count": {"type": "integer", "minimum": 0},
        },
    },
    "TemplateField": {
        "type": "object", "required": ["name"],
        "properties": {
            "name": {"type": "string"}, "label": {"type": "string"},
            "type": {"enum": ["text", "number", "currency", "percent", "date"]},
            "required": {"type": "boolean"},
        },
    },
    "Item": {
        "type": "object",
        "required": ["slug", "title", "summary", "type", "audience", "status", "stages",
                     "stakeholders", "solutions", "verticals", "body_html", "argument",
                     "file_url", "version", "template_fields"],
        "properties": {
            "slug": {"type": "string"}, "title": {"type": "string"},
            "summary": {"type": "string"}, "type": {"type": "string"},
            "audience": {"enum": ["internal", "external"]},
            "status": {"enum": ["draft", "in_review", "published", "archived"]},
            "stages": STRINGS, "stakeholders": STRINGS, "solutions": STRINGS,
            "verticals": STRINGS,
            "owner": {"type": ["string", "null"]},
            "review_by": {"type": ["string", "null"], "format": "date"},
            "stale": {"type": "boolean"},
            "updated_at": {"type": "string", "format": "date-time"},
            "body": {"type": "string"},
            "body_html": {"type": "string", "description": "sanitised HTML"},
            "argument": {"type": "object"},
            "file_url": {"type": ["string", "null"]},
            "file": {"type": ["object", "null"]},
            "template_fields": {
                "type": "array",
                "items": {"oneOf": [_ref("TemplateField"), {"type": "string"}]},
            },
            "version": {"type": "integer", "minimum": 1},
        },
    },
    "UsageReport": {
        "type": "object", "required": ["kind", "content"], "additionalProperties": False,
        "properties": {
            "kind": {"enum": ["view", "download", "share", "copy", "used_in_deal"]},
            "content": SLUG,
            "deal": {"type": ["string", "null"], "description": "the deal's CRM id"},
        },
    },
    "UsageRecorded": {
        "type": "object", "required": ["kind", "content", "deal", "occurred_at"],
        "properties": {
            "kind": {"type": "string"}, "content": {"type": "string"},
            "deal": {"type": ["string", "null"]}, "stage": {"type": ["string", "null"]},
            "occurred_at": {"type": "string", "format": "date-time"},
        },
    },
    "ItemUse": {
        "type": "object",
        "required": ["slug", "views", "unique_viewers", "downloads", "shares", "share_opens",
                     "last_used", "stale"],
        "properties": {
            "slug": {"type": "string"},
            **{n: {"type": "integer", "minimum": 0}
               for n in ("views", "unique_viewers", "downloads", "shares", "share_opens")},
            "last_used": {"type": ["string", "null"], "format": "date-time"},
            "stale": {"type": "boolean"},
        },
    },
    "Metrics": {
        "type": "object",
        "required": ["close_rate", "close_rate_ci", "win_rate", "win_rate_ci",
                     "close_rate_amount", "win_rate_amount", "won", "lost_competition",
                     "lost_no_decision"],
        "properties": {
            "close_rate": RATE, "close_rate_ci": INTERVAL, "win_rate": RATE,
            "win_rate_ci": INTERVAL, "close_rate_amount": RATE, "win_rate_amount": RATE,
            "won": {"type": "integer"}, "lost_competition": {"type": "integer"},
            "lost_no_decision": {"type": "integer"},
            "won_amount": {"type": "number"}, "lost_competition_amount": {"type": "number"},
            "lost_no_decision_amount": {"type": "number"},
        },
    },
    "Effectiveness": {
        "type": "object", "required": ["baseline", "items"],
        "properties": {
            "baseline": _ref("Metrics"),
            "items": {"type": "array", "items": {"allOf": [_ref("Metrics"), {
                "type": "object", "required": ["slug", "deals", "lift"],
                "properties": {"slug": {"type": "string"},
                               "deals": {"type": "integer", "minimum": 0},
                               "lift": {"type": ["number", "null"]}}}]}},
        },
    },
    "StageConversion": {
        "type": "object",
        "required": ["slug", "entered", "left", "converted", "conversion", "avg_days"],
        "properties": {
            "slug": {"type": "string"},
            "entered": {"type": "integer"}, "left": {"type": "integer"},
            "converted": {"type": "integer"}, "conversion": RATE,
            "avg_days": {"type": ["number", "null"]},
        },
    },
    "SearchGap": {
        "type": "object", "required": ["query", "count", "zero_results"],
        "properties": {"query": {"type": "string"}, "count": {"type": "integer"},
                       "zero_results": {"type": "integer"}},
    },
    "NewShare": {
        "type": "object", "required": ["content", "recipient", "expires_in_days"],
        "examples": [{"content": EXAMPLE_SLUGS, "deal": None,
                      "recipient": "cfo@contoso-health.example", "expires_in_days": 14}],
        "properties": {
            "content": {"type": "array", "items": SLUG, "minItems": 1},
            "deal": {"type": ["string", "null"], "description": "the deal's CRM id"},
            "recipient": {"type": "string", "format": "email"},
            "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 90},
            "note": {"type": "string", "description": "a short note shown to the buyer"},
            "allow_downloads": {"type": "boolean", "description": "default true"},
        },
    },
    "Share": {
        "type": "object", "required": ["id", "url", "expires_at"],
        "properties": {"id": {"type": "integer"}, "url": {"type": "string"},
                       "expires_at": {"type": "string", "format": "date-time"}},
    },
    "TemplateValues": {
        "type": "object", "required": ["values"],
        "examples": [{"values": {"project_name": "Forecasting you can sign off",
                                 "annual_revenue": "250,000,000"}, "company": "Contoso Health"}],
        "properties": {
            "values": {"type": "object", "description": "field name: value, as typed",
                       "additionalProperties": {"type": ["string", "number"]}},
            "company": {"type": ["string", "null"],
                        "description": "staff: whose business case (names the file)"},
            "deal": {"type": ["string", "null"], "description": "staff: the deal's CRM id"},
        },
    },
}


def _get(summary: str, answer: dict, parameters: list | None = None,
         errors: dict | None = None) -> dict:
    return {"get": {"summary": summary, "parameters": parameters or [],
                    "responses": {"200": answer, **COMMON_ERRORS, **(errors or {})}}}


PATHS: dict[str, dict] = {
    "/search": _get(
        "Full-text search over published content, with facets",
        _json(_ref("SearchAnswer"), "The page of results"),
        [{"name": "q", "in": "query", "required": False,
          "schema": {"type": "string"}, "description": "words and \"quoted phrases\""},
         *(_tag_filter(f) for f in FACETS),
         {"name": "page", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
         {"name": "per_page", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
        BAD_INPUT),
    "/stages": _get("The buyer's stages in order",
                    _json({"type": "array", "items": _ref("Stage")}, "The stages")),
    "/stages/{slug}/content": _get(
        "Content recommended at a stage, best first",
        _json({"type": "object", "required": ["stage", "results"],
               "properties": {"stage": {"type": "string"},
                              "results": {"type": "array", "items": _ref("Card")}}},
              "The recommendations"),
        [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
         *({"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
           for n in ("stakeholder", "solution", "vertical"))],
        {**BAD_INPUT, **NOT_FOUND}),
    "/content/{slug}": _get(
        "One item", _json(_ref("Item"), "The item"),
        [{"name": "slug", "in": "path", "required": True, "schema": SLUG}],
        NOT_FOUND),
    "/content/{slug}/generate": {"post": {
        "summary": "Fill the item's business-case template and download it",
        "parameters": [{"name": "slug", "in": "path", "required": True, "schema": SLUG}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": _ref("TemplateValues")}}},
        "responses": {
            "200": {"description": "The filled document, as an attachment", "content": {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {
                    "schema": {"type": "string", "format": "binary"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}}}},
            **COMMON_ERRORS, **BAD_INPUT, **NOT_FOUND,
            "429": _error("Too many documents generated from this address; see Retry-After."),
        }}},
    "/usage": {"post": {
        "summary": "Report what the caller did with an item",
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": _ref("UsageReport")}}},
        "responses": {"201": _json(_ref("UsageRecorded"), "Stored"),
                      **COMMON_ERRORS, **BAD_INPUT, **NOT_FOUND,
                      "503": _error("Not stored (the database was busy): send it again.")},
    }},
    "/shares": {"post": {
        "summary": "Share published external items with a buyer by a link",
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": _ref("NewShare")}}},
        "responses": {"201": _json(_ref("Share"), "The new link"),
                      **COMMON_ERRORS, **BAD_INPUT, **NOT_FOUND},
    }},
    "/shares/{share_id}": {"delete": {
        "summary": "Revoke a share link at once",
        "parameters": [{"name": "share_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1}}],
        "responses": {"204": {"description": "Revoked: its URL answers 404 from now on"},
                      **COMMON_ERRORS, **NOT_FOUND},
    }},
    "/analytics/content": _get(
        "Usage per item in the period (managers and admins)",
        _json({"type": "array", "items": _ref("ItemUse")}, "One row per item"), PERIOD,
        BAD_INPUT),
    "/analytics/effectiveness": _get(
        "Baseline and per-item close and win rates (managers and admins)",
        _json(_ref("Effectiveness"), "Section 7's metrics"), PERIOD, BAD_INPUT),
    "/analytics/stages": _get(
        "Stage conversion and days in stage (managers and admins)",
        _json({"type": "array", "items": _ref("StageConversion")}, "The stages in order"),
        PERIOD, BAD_INPUT),
    "/analytics/searches": _get(
        "What was searched for, most frequent first (managers and admins)",
        _json({"type": "array", "items": _ref("SearchGap")}, "One row per query"), PERIOD,
        BAD_INPUT),
}


def document(server_url: str = "/api/v1") -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Enablement portal API",
            "version": "1",
            "description": (
                "Content by the buyer's stage, search, usage and effectiveness. Every endpoint "
                "applies the web pages' permission rules: an item the caller may not see "
                "answers 404, the same as one that does not exist. Errors are "
                '{"error": "…"} with a 4xx status. See docs/api.md.'),
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "a token from `portal users token EMAIL`"},
                "session": {"type": "apiKey", "in": "cookie", "name": "portal_session",
                            "description": "a signed-in browser; changes need X-CSRFToken"},
            },
        },
    }
