"""The mapping-template renderer against API Gateway's documented behaviour.

Expected values are written out by hand from the developer guide ("Variables for data
transformations", "$util" and "$context.responseOverride"), not computed by the renderer.
"""

from __future__ import annotations

import json

import pytest

from localcloud.vtl import error_context, escape_javascript, render

ORDER = {"customer": 'O\'Brien "Ltd"', "items": [{"sku": "A-1", "quantity": 2}, {"sku": "B-2", "quantity": 1}]}


def test_input_json_returns_json_text_of_the_selected_value():
    rendered = render("{\"order\": $input.json('$'), \"first\": $input.json('$.items[0]')}", body=ORDER)
    assert rendered.json() == {"order": ORDER, "first": {"sku": "A-1", "quantity": 2}}


def test_input_path_returns_an_object_templates_can_walk():
    template = (
        "#foreach($item in $input.path('$.items'))$item.sku x$item.quantity#if($foreach.hasNext), #end#end"
        " / $input.path('$.items').size()"
    )
    assert render(template, body=ORDER).body == "A-1 x2, B-2 x1 / 2"


def test_input_body_is_the_raw_payload():
    assert render("$input.body", body='{"a":  1}').body == '{"a":  1}'


def test_input_params_looks_in_path_then_querystring_then_header():
    params = {"path": {"id": "p"}, "querystring": {"id": "q", "page": "2"}, "header": {"page": "h", "X-Trace": "t"}}
    assert (
        render(
            "$input.params('id') $input.params('page') $input.params('X-Trace') [$input.params('nope')]", params=params
        ).body
        == "p 2 t []"
    )
    assert render("$input.params().querystring.page", params=params).body == "2"


def test_escape_javascript_escapes_quotes_backslashes_slashes_and_controls():
    assert escape_javascript('say "hi"\\') == 'say \\"hi\\"\\\\'
    assert escape_javascript("it's") == "it\\'s"
    assert escape_javascript("a/b\n\t\x01") == "a\\/b\\n\\t\\u0001"
    assert escape_javascript("é€") == "\\u00E9\\u20AC"
    assert escape_javascript("😀") == "\\uD83D\\uDE00"  # UTF-16 code units, as Java holds the string
    assert escape_javascript("a\ud800b") == "a\\uD800b"  # a lone surrogate is a unit of its own


def test_the_documented_replace_all_idiom_makes_escaped_json_valid():
    template = '{"input": "$util.escapeJavaScript($input.json(\'$\')).replaceAll("\\\\\'", "\'")"}'
    rendered = render(template, body=ORDER)
    assert json.loads(rendered.json()["input"]) == ORDER
    # Without the replaceAll, escapeJavaScript's \' is not valid JSON.
    with pytest.raises(json.JSONDecodeError):
        render('{"input": "$util.escapeJavaScript($input.json(\'$\'))"}', body=ORDER).json()


def test_util_parse_json_base64_and_url_encoding():
    template = (
        "#set($o = $util.parseJson($input.path('$.doc')))$o.a.b $util.base64Encode('hi?') "
        "$util.base64Decode('aGk/') $util.urlEncode('a b&c') $util.urlDecode('a+b%26c')"
    )
    assert render(template, body={"doc": '{"a": {"b": 7}}'}).body == "7 aGk/ hi? a+b%26c a b&c"


def test_context_and_stage_variables():
    rendered = render(
        "$context.requestId $context.identity.sourceIp $stageVariables.env",
        context={"requestId": "r-1"},
        stage_variables={"env": "dev"},
    )
    assert rendered.body == "r-1 192.0.2.1 dev"


def test_response_override_sets_status_and_headers():
    template = (
        "#set($context.responseOverride.status = 418)\n"
        '#set($context.responseOverride.header.Cache = "no-store")\n'
        '{"ok": false}'
    )
    rendered = render(template)
    assert (rendered.status, rendered.headers, rendered.json()) == (418, {"Cache": "no-store"}, {"ok": False})
    assert render('{"ok": true}').status is None


def test_error_message_string_is_the_quoted_message():
    rendered = render("$context.error.messageString", context={"error": error_context("UNAUTHORIZED", "Unauthorized")})
    assert rendered.body == '"Unauthorized"'


def test_a_body_that_is_not_json_is_reported():
    with pytest.raises(Exception, match="not JSON") as raised:
        render("$input.json('$')", body="{nope")
    assert isinstance(raised.value.__cause__, ValueError)


def test_parse_json_gives_an_object_whose_missing_fields_compare_unequal():
    template = "#set($o = $util.parseJson($input.path('$.output')))#if($o.outcome == \"rejected\")400#{else}200#end"
    assert render(template, body={"output": '{"decision": "ACCEPT"}'}).body == "200"
    assert render(template, body={"output": '{"outcome": "rejected"}'}).body == "400"


def test_foreach_over_an_empty_list_renders_nothing():
    assert (
        render(
            "[#foreach($d in $input.path('$.details')){$d}#if($foreach.hasNext),#end#end]", body={"details": []}
        ).body
        == "[]"
    )
