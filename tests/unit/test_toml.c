/*
 * test_toml.c — the strict TOML subset reader (util/toml.h): every supported
 * construct, every refusal with its exact "<name>:<line>: <message>", line
 * numbers after multi-line values, bounds, and whole kms.toml files written
 * from the facts in deployment-and-users §1.4/§2.6 and kms-protocol §14.
 * Expected values come from the TOML v1.0 spec text, not from the parser.
 */
#include "harness.h"

#include "util/err.h"
#include "util/toml.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct err g_err;

/* Parses a NUL-terminated document named "kms.toml"; NULL on failure (g_err). */
static struct toml_value *parse(const char *text)
{
	err_clear(&g_err);
	return toml_parse(text, strlen(text), "kms.toml", &g_err);
}

/* The error message for a document that must fail. */
static const char *parse_err_n(const char *text, size_t len)
{
	err_clear(&g_err);
	struct toml_value *v = toml_parse(text, len, "kms.toml", &g_err);
	if (v) {
		toml_free(v);
		return "(parsed without error)";
	}
	return g_err.msg;
}

static const char *parse_err(const char *text)
{
	return parse_err_n(text, strlen(text));
}

/* ---- documents and structure ------------------------------------------- */

TEST(test_toml_empty_and_comment_only_documents)
{
	struct toml_value *v = parse("");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_type(v), TOML_TABLE);
	CHECK_EQ_INT(toml_table_len(v), 0);
	toml_free(v);
	v = toml_parse(NULL, 0, "kms.toml", &g_err);
	CHECK(v && toml_table_len(v) == 0);
	toml_free(v);
	v = parse("# only a comment\n\n   \t\n# another");
	CHECK(v && toml_table_len(v) == 0);
	toml_free(v);
}

TEST(test_toml_comments_everywhere)
{
	struct toml_value *v = parse("# header comment\n"
				     "a = 1 # after a value\n"
				     "[t] # after a header\n"
				     "  # indented comment\n"
				     "b = [ # after [\n"
				     "  1, # after an element\n"
				     "  # own line inside array\n"
				     "  2 # before ]\n"
				     "] # after ]\n"
				     "c = \"# not a comment\" # comment\n"
				     "d = '# nor this'\n"
				     "#no newline at end");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_int(toml_get(v, "a")), 1);
	const struct toml_value *b = toml_get_path(v, "t.b");
	CHECK_EQ_INT(toml_array_len(b), 2);
	CHECK_EQ_INT(toml_int(toml_array_at(b, 1)), 2);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "t.c")), "# not a comment");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "t.d")), "# nor this");
	toml_free(v);
}

TEST(test_toml_crlf_line_endings)
{
	struct toml_value *v =
	    parse("a = 1\r\n# c\r\n[t]\r\nb = \"x\"\r\nc = [\r\n 1,\r\n 2,\r\n]\r\n"
		  "d = \"\"\"\r\nline1\r\nline2\"\"\"\r\ne = true\r\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_int(toml_get(v, "a")), 1);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "t.b")), "x");
	CHECK_EQ_INT(toml_array_len(toml_get_path(v, "t.c")), 2);
	/* CRLF inside a multi-line string is read as LF; first newline dropped. */
	CHECK_EQ_STR(toml_string(toml_get_path(v, "t.d")), "line1\nline2");
	CHECK_EQ_INT(toml_line(toml_get_path(v, "t.e")), 12);
	toml_free(v);
	/* A carriage return on its own is not a line end. */
	CHECK_EQ_STR(parse_err("a = 1\rb = 2\n"),
		     "kms.toml:1: carriage return not followed by a newline");
	CHECK_EQ_STR(parse_err("a = 1\n# x\r"),
		     "kms.toml:2: carriage return not followed by a newline");
}

TEST(test_toml_skips_utf8_bom)
{
	struct toml_value *v = parse("\xEF\xBB\xBF"
				     "a = 1\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_int(toml_get(v, "a")), 1);
	CHECK_EQ_INT(toml_line(toml_get(v, "a")), 1);
	toml_free(v);
	/* Only at the very start. */
	CHECK_CONTAINS(parse_err("a = 1\n\xEF\xBB\xBF"
				 "b = 2\n"),
		       "kms.toml:2: expected a key");
}

TEST(test_toml_rejects_control_characters)
{
	CHECK_EQ_STR(parse_err("a = 1\n# bell \x07 here\n"),
		     "kms.toml:2: control character U+0007 is not allowed");
	CHECK_EQ_STR(parse_err("a = \"x\x01y\"\n"),
		     "kms.toml:1: control character U+0001 is not allowed");
	CHECK_EQ_STR(parse_err("a = 'x\x7fy'\n"),
		     "kms.toml:1: control character U+007F is not allowed");
	CHECK_EQ_STR(parse_err("\n\na = \"\"\"x\x1f\"\"\"\n"),
		     "kms.toml:3: control character U+001F is not allowed");
	CHECK_EQ_STR(parse_err_n("a = \"x\0\"\n", 8),
		     "kms.toml:1: control character U+0000 is not allowed");
	/* Tab is allowed in strings and comments. */
	struct toml_value *v = parse("a = \"x\ty\" #\tcomment\nb = 'p\tq'\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_STR(toml_string(toml_get(v, "a")), "x\ty");
	CHECK_EQ_STR(toml_string(toml_get(v, "b")), "p\tq");
	toml_free(v);
}

TEST(test_toml_rejects_invalid_utf8)
{
	CHECK_EQ_STR(parse_err("a = \"\xC3\"\n"), "kms.toml:1: invalid UTF-8");
	CHECK_EQ_STR(parse_err("a = 1\n# \xC0\xAF overlong\n"), "kms.toml:2: invalid UTF-8");
	CHECK_EQ_STR(parse_err("a = \"\xE0\x80\xAF\"\n"), "kms.toml:1: invalid UTF-8");
	CHECK_EQ_STR(parse_err("a = \"\xED\xA0\x80\"\n"), "kms.toml:1: invalid UTF-8"); /* D800 */
	CHECK_EQ_STR(parse_err("a = \"\xF4\x90\x80\x80\"\n"), "kms.toml:1: invalid UTF-8");
	CHECK_EQ_STR(parse_err("a = \"\xFF\"\n"), "kms.toml:1: invalid UTF-8");
	CHECK_EQ_STR(parse_err("a = 'x\xE2\x82"), "kms.toml:1: invalid UTF-8 (truncated sequence)");
	/* Valid multi-byte text is kept byte for byte. */
	struct toml_value *v = parse("a = \"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_HEX(toml_string(v ? toml_get(v, "a") : NULL), 9, "c3a9e282acf09f9880");
	toml_free(v);
}

TEST(test_toml_table_headers_and_quoted_keys)
{
	struct toml_value *v = parse("[a.b.\"c d\"]\nx = 1\n"
				     "[ 'lit.key' . \"q\\\"k\" ]\ny = 2\n"
				     "[core]\n\"quoted key\" = 3\n'lit key' = 4\n-_Az09 = 5\n"
				     "\"\" = 6\n");
	CHECK_MSG(v, "%s", g_err.msg);
	const struct toml_value *cd = toml_get(toml_get(toml_get(v, "a"), "b"), "c d");
	CHECK(cd && toml_type(cd) == TOML_TABLE);
	CHECK_EQ_INT(toml_int(toml_get(cd, "x")), 1);
	const struct toml_value *lk = toml_get(toml_get(v, "lit.key"), "q\"k");
	CHECK_EQ_INT(toml_int(toml_get(lk, "y")), 2);
	const struct toml_value *core = toml_get(v, "core");
	CHECK_EQ_INT(toml_int(toml_get(core, "quoted key")), 3);
	CHECK_EQ_INT(toml_int(toml_get(core, "lit key")), 4);
	CHECK_EQ_INT(toml_int(toml_get(core, "-_Az09")), 5);
	CHECK_EQ_INT(toml_int(toml_get(core, "")), 6);
	toml_free(v);
	CHECK_EQ_STR(parse_err("[a\nb]\n"), "kms.toml:1: expected ']' after table name 'a', "
					    "found end of line");
	CHECK_EQ_STR(parse_err("[]\n"), "kms.toml:1: expected a key, found ']'");
	CHECK_EQ_STR(parse_err("[a] b = 1\n"),
		     "kms.toml:1: expected end of line after table header 'a', found 'b'");
	CHECK_EQ_STR(parse_err("[\"\"\"a\"\"\"]\n"),
		     "kms.toml:1: a multi-line string cannot be a key");
}

TEST(test_toml_duplicate_table_is_rejected)
{
	CHECK_EQ_STR(parse_err("[rpc]\nport = 1\n\n[rpc]\naddress = \"x\"\n"),
		     "kms.toml:4: duplicate table [rpc]");
	CHECK_EQ_STR(parse_err("[a.b]\n[a.b]\n"), "kms.toml:2: duplicate table [a.b]");
	CHECK_EQ_STR(parse_err("[a]\n[a.b]\n[a]\n"), "kms.toml:3: duplicate table [a]");
	/* The same table spelled differently is still the same table. */
	CHECK_EQ_STR(parse_err("[a.\"b\"]\n[ a . 'b' ]\n"), "kms.toml:2: duplicate table [a.b]");
	CHECK_EQ_STR(parse_err("a = 1\n[a]\n"),
		     "kms.toml:2: cannot define table [a]: 'a' is already an integer");
	CHECK_EQ_STR(parse_err("a = \"s\"\n[a.b]\n"),
		     "kms.toml:2: cannot define table [a.b]: 'a' is already a string");
	CHECK_EQ_STR(parse_err("[t]\na = [1]\n[t.a.b]\n"),
		     "kms.toml:3: cannot define table [t.a.b]: 't.a' is an array (arrays of "
		     "tables are not supported)");
}

TEST(test_toml_implicit_table_can_be_defined_once)
{
	struct toml_value *v = parse("[core.auth_api.webhook]\nurl = \"u\"\n"
				     "[core]\ncert_dir = \"/c\"\n"
				     "[core.auth_api]\ntype = \"webhook\"\n");
	CHECK_MSG(v, "%s", g_err.msg);
	const struct toml_value *core = toml_get(v, "core");
	CHECK_EQ_INT(toml_line(core), 3); /* the line of its explicit definition */
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.cert_dir")), "/c");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.auth_api.type")), "webhook");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.auth_api.webhook.url")), "u");
	/* Definition order: auth_api (made implicitly first), then cert_dir. */
	const struct toml_value *val;
	CHECK_EQ_STR(toml_table_key(core, 0, &val), "auth_api");
	CHECK_EQ_STR(toml_table_key(core, 1, &val), "cert_dir");
	toml_free(v);
	CHECK_EQ_STR(parse_err("[a.b]\n[a]\n[a]\n"), "kms.toml:3: duplicate table [a]");
	/* Keys in [a] may not collide with tables made inside it. */
	CHECK_EQ_STR(parse_err("[a.b]\n[a]\nb = 1\n"), "kms.toml:3: duplicate key 'b'");
}

TEST(test_toml_dotted_keys_create_subtables)
{
	struct toml_value *v =
	    parse("name.first = \"a\"\nname . last = 'b'\n"
		  "site.\"google.com\" = true\n"
		  "[core]\nauth_api.type = \"dev\"\nauth_api.dev.gateway_app_id = "
		  "\"any\"\n3.14 = 1\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "name.first")), "a");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "name.last")), "b");
	CHECK_EQ_INT(toml_bool(toml_get(toml_get(v, "site"), "google.com")), 1);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.auth_api.dev.gateway_app_id")), "any");
	CHECK_EQ_INT(toml_int(toml_get(toml_get_path(v, "core.3"), "14")), 1);
	CHECK_EQ_INT(toml_line(toml_get_path(v, "core.auth_api")), 5);
	toml_free(v);
	/* A table made by dotted keys may get sub-tables from headers later. */
	v = parse("[fruit]\napple.color = \"red\"\n[fruit.apple.texture]\nsmooth = true\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_bool(toml_get_path(v, "fruit.apple.texture.smooth")), 1);
	toml_free(v);
}

TEST(test_toml_dotted_and_header_tables_do_not_mix)
{
	/* A table made by dotted keys cannot then be defined by a header. */
	CHECK_EQ_STR(parse_err("[fruit]\napple.color = \"red\"\n[fruit.apple]\n"),
		     "kms.toml:3: duplicate table [fruit.apple]");
	CHECK_EQ_STR(parse_err("a.b = 1\n[a]\n"), "kms.toml:2: duplicate table [a]");
	/* Dotted keys cannot add to a table a header made (toml-lang/toml#846). */
	CHECK_EQ_STR(parse_err("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n"),
		     "kms.toml:4: cannot set key 'b.c.t': table 'b' is already defined elsewhere");
	CHECK_EQ_STR(parse_err("a = 1\na.b = 2\n"),
		     "kms.toml:2: cannot set key 'a.b': 'a' is already an integer");
	CHECK_EQ_STR(parse_err("a.b = 1\na.b.c = 2\n"),
		     "kms.toml:2: cannot set key 'a.b.c': 'a.b' is already an integer");
	CHECK_EQ_STR(parse_err("a.b = 1\na.b = 2\n"), "kms.toml:2: duplicate key 'a.b'");
	CHECK_EQ_STR(parse_err("a.b = 1\na = 2\n"), "kms.toml:2: duplicate key 'a'");
}

TEST(test_toml_duplicate_key_names_the_key)
{
	CHECK_EQ_STR(parse_err("[rpc]\naddress = \"0.0.0.0\"\nport = 9100\n# again\nport = 9200\n"),
		     "kms.toml:5: duplicate key 'port'");
	CHECK_EQ_STR(parse_err("\"port\" = 1\nport = 2\n"), "kms.toml:2: duplicate key 'port'");
	CHECK_EQ_STR(parse_err("'a b' = 1\n\"a b\" = 2\n"), "kms.toml:2: duplicate key '\"a b\"'");
	/* Error line is the key's, even when the value spans lines. */
	CHECK_EQ_STR(parse_err("a = 1\na = [\n1,\n2]\n"), "kms.toml:2: duplicate key 'a'");
	/* Control characters from escapes are shown escaped, not raw. */
	CHECK_EQ_STR(parse_err("\"a\\nb\" = 1\n\"a\\nb\" = 2\n"),
		     "kms.toml:2: duplicate key '\"a\\u000Ab\"'");
	CHECK_EQ_STR(parse_err("\"a\\u0000b\" = 1\n"),
		     "kms.toml:1: key '\"a\\u0000b\"' contains a NUL character");
}

TEST(test_toml_key_value_syntax_errors)
{
	CHECK_EQ_STR(parse_err("[default]\n\nworkers 8\n"),
		     "kms.toml:3: expected '=' after key 'workers', found '8'");
	CHECK_EQ_STR(parse_err("workers\n"),
		     "kms.toml:1: expected '=' after key 'workers', found end of line");
	CHECK_EQ_STR(parse_err("a = 1\nworkers ="), "kms.toml:2: missing value for key 'workers'");
	CHECK_EQ_STR(parse_err("workers = # none\n"),
		     "kms.toml:1: missing value for key 'workers'");
	CHECK_EQ_STR(parse_err("= 1\n"), "kms.toml:1: expected a key, found '='");
	CHECK_EQ_STR(parse_err("a = 1 2\n"),
		     "kms.toml:1: expected end of line after value of key 'a', found '2'");
	CHECK_EQ_STR(parse_err("a = \"x\" \"y\"\n"),
		     "kms.toml:1: expected end of line after value of key 'a', found '\"'");
	CHECK_EQ_STR(parse_err("a = 1\nb = = 2\n"),
		     "kms.toml:2: invalid value for key 'b': unexpected '='");
	CHECK_EQ_STR(parse_err("a.\n"), "kms.toml:1: expected a key, found end of line");
	CHECK_EQ_STR(parse_err("a = 1\na b = 2\n"),
		     "kms.toml:2: expected '=' after key 'a', found 'b'");
}

/* ---- strings ------------------------------------------------------------ */

TEST(test_toml_basic_string_escapes)
{
	struct toml_value *v = parse("s = \"b\\b t\\t n\\n f\\f r\\r q\\\" bs\\\\ "
				     "u\\u00E9 U\\U0001F600 e\\u20ac\"\n");
	CHECK_MSG(v, "%s", g_err.msg);
	const char *want = "b\b t\t n\n f\f r\r q\" bs\\ u\xC3\xA9 U\xF0\x9F\x98\x80 "
			   "e\xE2\x82\xAC";
	CHECK_EQ_STR(toml_string(toml_get(v, "s")), want);
	CHECK_EQ_INT(toml_string_len(toml_get(v, "s")), strlen(want));
	toml_free(v);
	/* \u0000 is a real character: the length counts it. */
	v = parse("s = \"a\\u0000b\"\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_string_len(toml_get(v, "s")), 3);
	CHECK_HEX(toml_string(toml_get(v, "s")), 4, "61006200");
	toml_free(v);
	/* Edge scalars: U+FFFF, U+10FFFF, U+E000 are allowed. */
	v = parse("s = \"\\uFFFF\\U0010FFFF\\uE000\"\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_HEX(toml_string(toml_get(v, "s")), 10, "efbfbff48fbfbfee8080");
	toml_free(v);
}

TEST(test_toml_rejects_invalid_escapes)
{
	CHECK_EQ_STR(parse_err("s = \"a\\qb\"\n"), "kms.toml:1: invalid escape '\\q' in string");
	CHECK_EQ_STR(parse_err("s = \"\\x41\"\n"), "kms.toml:1: invalid escape '\\x' in string");
	CHECK_EQ_STR(parse_err("s = \"\\e\"\n"), "kms.toml:1: invalid escape '\\e' in string");
	CHECK_EQ_STR(parse_err("\ns = \"\\u12\"\n"),
		     "kms.toml:2: invalid escape '\\u': needs 4 hex digits");
	CHECK_EQ_STR(parse_err("s = \"\\U0001F60\"\n"),
		     "kms.toml:1: invalid escape '\\U': needs 8 hex digits");
	CHECK_EQ_STR(parse_err("s = \"\\uD800\"\n"),
		     "kms.toml:1: invalid escape '\\uD800': not a Unicode scalar value");
	CHECK_EQ_STR(parse_err("s = \"\\udfff\"\n"),
		     "kms.toml:1: invalid escape '\\udfff': not a Unicode scalar value");
	CHECK_EQ_STR(parse_err("s = \"\\U00110000\"\n"),
		     "kms.toml:1: invalid escape '\\U00110000': not a Unicode scalar value");
	CHECK_EQ_STR(parse_err("s = \"a\\ b\"\n"),
		     "kms.toml:1: invalid escape in string (backslash before ' ')");
	/* A line-ending backslash only works in multi-line basic strings. */
	CHECK_EQ_STR(parse_err("s = \"a\\\nb\"\n"),
		     "kms.toml:1: invalid escape in string (backslash before end of line)");
	CHECK_EQ_STR(parse_err("s = \"\"\"a\\ b\"\"\"\n"),
		     "kms.toml:1: invalid escape in string (backslash before ' ')");
}

TEST(test_toml_literal_strings_take_text_as_is)
{
	struct toml_value *v = parse("path = 'C:\\Users\\kms\\n'\nre = '<\\i\\c*\\s*>'\n"
				     "q = 'say \"hi\"'\nempty = ''\nempty2 = \"\"\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_STR(toml_string(toml_get(v, "path")), "C:\\Users\\kms\\n");
	CHECK_EQ_STR(toml_string(toml_get(v, "re")), "<\\i\\c*\\s*>");
	CHECK_EQ_STR(toml_string(toml_get(v, "q")), "say \"hi\"");
	CHECK_EQ_STR(toml_string(toml_get(v, "empty")), "");
	CHECK_EQ_INT(toml_string_len(toml_get(v, "empty2")), 0);
	toml_free(v);
}

TEST(test_toml_multiline_basic_strings)
{
	struct toml_value *v = parse(
	    "a = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n"
	    "b = \"\"\"\\\n       The quick brown \\\n\n\n       fox.\\\n       \"\"\"\n"
	    "c = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\n"
	    "d = \"\"\"Here are fifteen quotation marks: \"\"\\\"\"\"\\\"\"\"\\\"\"\"\\\"\"\"\\\""
	    ".\"\"\"\n"
	    "e = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n"
	    "f = \"\"\"x\\t\\u00e9 \\  \t\n  y\"\"\"\n"
	    "g = \"\"\"\"\"\"\n"
	    "h = \"\"\"ends with two\"\"\"\"\"\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_STR(toml_string(toml_get(v, "a")), "Roses are red\nViolets are blue");
	CHECK_EQ_STR(toml_string(toml_get(v, "b")), "The quick brown fox.");
	CHECK_EQ_STR(toml_string(toml_get(v, "c")),
		     "Here are two quotation marks: \"\". Simple enough.");
	CHECK_EQ_STR(toml_string(toml_get(v, "d")),
		     "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\".");
	CHECK_EQ_STR(toml_string(toml_get(v, "e")),
		     "\"This,\" she said, \"is just a pointless statement.\"");
	CHECK_EQ_STR(toml_string(toml_get(v, "f")), "x\t\xC3\xA9 y");
	CHECK_EQ_STR(toml_string(toml_get(v, "g")), "");
	CHECK_EQ_STR(toml_string(toml_get(v, "h")), "ends with two\"\"");
	toml_free(v);
	CHECK_EQ_STR(parse_err("a = \"\"\"x\"\"\"\"\"\"\n"),
		     "kms.toml:1: too many quotes in a row in multi-line string");
}

TEST(test_toml_multiline_literal_strings)
{
	struct toml_value *v = parse(
	    "regex2 = '''I [dw]on't need \\d{2} apples'''\n"
	    "lines = '''\nThe first newline is\ntrimmed in raw strings.\n"
	    "   All other whitespace\n   is preserved.\n'''\n"
	    "quot15 = '''Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"'''\n"
	    "apos = ''''That,' she said, 'is still pointless.''''\n"
	    "crlf = '''\r\na\r\nb'''\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_STR(toml_string(toml_get(v, "regex2")), "I [dw]on't need \\d{2} apples");
	CHECK_EQ_STR(toml_string(toml_get(v, "lines")),
		     "The first newline is\ntrimmed in raw strings.\n   All other whitespace\n"
		     "   is preserved.\n");
	CHECK_EQ_STR(toml_string(toml_get(v, "quot15")),
		     "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"");
	CHECK_EQ_STR(toml_string(toml_get(v, "apos")), "'That,' she said, 'is still pointless.'");
	CHECK_EQ_STR(toml_string(toml_get(v, "crlf")), "a\nb");
	toml_free(v);
	CHECK_EQ_STR(parse_err("a = '''x''''''\n"),
		     "kms.toml:1: too many quotes in a row in multi-line string");
}

TEST(test_toml_unterminated_strings_report_opening_line)
{
	CHECK_EQ_STR(parse_err("a = 1\n\nb = \"abc\nc = 2\n"), "kms.toml:3: unterminated string");
	CHECK_EQ_STR(parse_err("b = 'abc"), "kms.toml:1: unterminated string");
	CHECK_EQ_STR(parse_err("b = \"abc\\"), "kms.toml:1: unterminated string");
	CHECK_EQ_STR(parse_err("x = 1\nb = \"\"\"abc\n\ndef\"\"\n"),
		     "kms.toml:2: unterminated string");
	CHECK_EQ_STR(parse_err("\n\n\nb = '''abc\n''"), "kms.toml:4: unterminated string");
	CHECK_EQ_STR(parse_err("\"key = 1\n"), "kms.toml:1: unterminated string");
	CHECK_EQ_STR(parse_err("[\"t]\n"), "kms.toml:1: unterminated string");
}

/* ---- numbers and booleans ----------------------------------------------- */

TEST(test_toml_integers)
{
	struct toml_value *v =
	    parse("a = +99\nb = 42\nc = 0\nd = -17\ne = 1_000\nf = 5_349_221\n"
		  "g = 1_2_3_4_5\nh = 0xDEADBEEF\ni = 0xdead_beef\nj = 0o01234567\n"
		  "k = 0o755\nl = 0b11010110\nm = 9223372036854775807\n"
		  "n = -9223372036854775808\no = -0\np = +0\nq = 0x7FFFFFFFFFFFFFFF\n"
		  "r = 0x00ff\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_type(toml_get(v, "a")), TOML_INT);
	CHECK_EQ_INT(toml_int(toml_get(v, "a")), 99);
	CHECK_EQ_INT(toml_int(toml_get(v, "b")), 42);
	CHECK_EQ_INT(toml_int(toml_get(v, "c")), 0);
	CHECK_EQ_INT(toml_int(toml_get(v, "d")), -17);
	CHECK_EQ_INT(toml_int(toml_get(v, "e")), 1000);
	CHECK_EQ_INT(toml_int(toml_get(v, "f")), 5349221);
	CHECK_EQ_INT(toml_int(toml_get(v, "g")), 12345);
	CHECK_EQ_INT(toml_int(toml_get(v, "h")), 3735928559LL);
	CHECK_EQ_INT(toml_int(toml_get(v, "i")), 3735928559LL);
	CHECK_EQ_INT(toml_int(toml_get(v, "j")), 342391);
	CHECK_EQ_INT(toml_int(toml_get(v, "k")), 493);
	CHECK_EQ_INT(toml_int(toml_get(v, "l")), 214);
	CHECK(toml_int(toml_get(v, "m")) == INT64_MAX);
	CHECK(toml_int(toml_get(v, "n")) == INT64_MIN);
	CHECK_EQ_INT(toml_int(toml_get(v, "o")), 0);
	CHECK_EQ_INT(toml_int(toml_get(v, "p")), 0);
	CHECK(toml_int(toml_get(v, "q")) == INT64_MAX);
	CHECK_EQ_INT(toml_int(toml_get(v, "r")), 255);
	toml_free(v);
}

TEST(test_toml_rejects_bad_integers)
{
	CHECK_EQ_STR(parse_err("port = 09100\n"),
		     "kms.toml:1: invalid value '09100' for key 'port': leading zeros are not "
		     "allowed");
	CHECK_EQ_STR(parse_err("a = -01\n"),
		     "kms.toml:1: invalid value '-01' for key 'a': leading zeros are not allowed");
	CHECK_EQ_STR(parse_err("a = 9223372036854775808\n"),
		     "kms.toml:1: invalid value '9223372036854775808' for key 'a': integer out of "
		     "range (64-bit signed)");
	CHECK_EQ_STR(parse_err("a = -9223372036854775809\n"),
		     "kms.toml:1: invalid value '-9223372036854775809' for key 'a': integer out "
		     "of range (64-bit signed)");
	CHECK_EQ_STR(parse_err("a = 0x8000000000000000\n"),
		     "kms.toml:1: invalid value '0x8000000000000000' for key 'a': integer out of "
		     "range (64-bit signed)");
	CHECK_EQ_STR(parse_err("a = 99999999999999999999999\n"),
		     "kms.toml:1: invalid value '99999999999999999999999' for key 'a': integer "
		     "out of range (64-bit signed)");
	CHECK_EQ_STR(parse_err("a = 1__000\n"),
		     "kms.toml:1: invalid value '1__000' for key 'a': invalid number");
	CHECK_EQ_STR(parse_err("a = 1000_\n"),
		     "kms.toml:1: invalid value '1000_' for key 'a': invalid number");
	CHECK_EQ_STR(parse_err("a = _1000\n"),
		     "kms.toml:1: invalid value '_1000' for key 'a' (strings must be quoted)");
	CHECK_EQ_STR(parse_err("a = -0x1\n"),
		     "kms.toml:1: invalid value '-0x1' for key 'a': a sign is not allowed on "
		     "hexadecimal, octal or binary integers");
	CHECK_EQ_STR(parse_err("a = 0X1F\n"),
		     "kms.toml:1: invalid value '0X1F' for key 'a': invalid number");
	CHECK_EQ_STR(parse_err("a = 0x\n"),
		     "kms.toml:1: invalid value '0x' for key 'a': invalid integer");
	CHECK_EQ_STR(parse_err("a = 0o8\n"),
		     "kms.toml:1: invalid value '0o8' for key 'a': invalid integer");
	CHECK_EQ_STR(parse_err("a = 0b102\n"),
		     "kms.toml:1: invalid value '0b102' for key 'a': invalid integer");
	CHECK_EQ_STR(parse_err("a = 0x_1\n"),
		     "kms.toml:1: invalid value '0x_1' for key 'a': invalid integer");
	CHECK_EQ_STR(parse_err("a = +\n"), "kms.toml:1: invalid value '+' for key 'a': invalid "
					   "number");
	CHECK_EQ_STR(parse_err("a = 12abc\n"),
		     "kms.toml:1: invalid value '12abc' for key 'a': invalid number");
}

TEST(test_toml_floats)
{
	struct toml_value *v = parse("a = +1.0\nb = 3.1415\nc = -0.01\nd = 5e+22\ne = 1e06\n"
				     "f = -2E-2\ng = 6.626e-34\nh = 224_617.445_991_228\ni = inf\n"
				     "j = +inf\nk = -inf\nl = nan\nm = -nan\nn = 0.0\no = -0.0\n"
				     "p = 1e-400\nq = 0e0\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_type(toml_get(v, "a")), TOML_FLOAT);
	CHECK(toml_float(toml_get(v, "a")) == 1.0);
	CHECK(toml_float(toml_get(v, "b")) == 3.1415);
	CHECK(toml_float(toml_get(v, "c")) == -0.01);
	CHECK(toml_float(toml_get(v, "d")) == 5e22);
	CHECK(toml_float(toml_get(v, "e")) == 1e6);
	CHECK(toml_float(toml_get(v, "f")) == -2e-2);
	CHECK(toml_float(toml_get(v, "g")) == 6.626e-34);
	CHECK(toml_float(toml_get(v, "h")) == 224617.445991228);
	CHECK(isinf(toml_float(toml_get(v, "i"))) && toml_float(toml_get(v, "i")) > 0);
	CHECK(isinf(toml_float(toml_get(v, "j"))) && toml_float(toml_get(v, "j")) > 0);
	CHECK(isinf(toml_float(toml_get(v, "k"))) && toml_float(toml_get(v, "k")) < 0);
	CHECK(isnan(toml_float(toml_get(v, "l"))));
	CHECK(isnan(toml_float(toml_get(v, "m"))));
	CHECK_EQ_INT(toml_type(toml_get(v, "n")), TOML_FLOAT);
	CHECK(toml_float(toml_get(v, "o")) == 0.0 && signbit(toml_float(toml_get(v, "o"))));
	CHECK(toml_float(toml_get(v, "p")) == 0.0); /* underflow rounds to zero */
	CHECK_EQ_INT(toml_type(toml_get(v, "q")), TOML_FLOAT);
	toml_free(v);
}

TEST(test_toml_rejects_bad_floats)
{
	CHECK_EQ_STR(parse_err("a = 1.\n"), "kms.toml:1: invalid value '1.' for key 'a': invalid "
					    "float (digits must follow '.')");
	CHECK_EQ_STR(parse_err("a = .5\n"),
		     "kms.toml:1: invalid value '.5' for key 'a': invalid number");
	CHECK_EQ_STR(parse_err("a = 1.e5\n"), "kms.toml:1: invalid value '1.e5' for key 'a': "
					      "invalid float (digits must follow '.')");
	CHECK_EQ_STR(parse_err("a = 1e\n"),
		     "kms.toml:1: invalid value '1e' for key 'a': invalid float exponent");
	CHECK_EQ_STR(parse_err("a = 1e_5\n"),
		     "kms.toml:1: invalid value '1e_5' for key 'a': invalid float exponent");
	CHECK_EQ_STR(
	    parse_err("a = 03.14\n"),
	    "kms.toml:1: invalid value '03.14' for key 'a': leading zeros are not allowed");
	CHECK_EQ_STR(parse_err("a = 1.5_\n"),
		     "kms.toml:1: invalid value '1.5_' for key 'a': invalid number");
	CHECK_EQ_STR(parse_err("a = 1e400\n"),
		     "kms.toml:1: invalid value '1e400' for key 'a': float out of range");
	CHECK_EQ_STR(parse_err("a = infinity\n"),
		     "kms.toml:1: invalid value 'infinity' for key 'a' (strings must be quoted)");
	CHECK_EQ_STR(parse_err("a = NaN\n"),
		     "kms.toml:1: invalid value 'NaN' for key 'a' (strings must be quoted)");
	CHECK_EQ_STR(parse_err("a = 1.2.3\n"),
		     "kms.toml:1: invalid value '1.2.3' for key 'a': invalid number");
}

TEST(test_toml_booleans_and_bare_words)
{
	struct toml_value *v = parse("t = true\nf = false\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_type(toml_get(v, "t")), TOML_BOOL);
	CHECK_EQ_INT(toml_bool(toml_get(v, "t")), 1);
	CHECK_EQ_INT(toml_bool(toml_get(v, "f")), 0);
	toml_free(v);
	CHECK_EQ_STR(parse_err("a = True\n"),
		     "kms.toml:1: invalid value 'True' for key 'a' (strings must be quoted)");
	CHECK_EQ_STR(parse_err("a = trueish\n"),
		     "kms.toml:1: invalid value 'trueish' for key 'a' (strings must be quoted)");
	CHECK_EQ_STR(parse_err("\ntype = webhook\n"),
		     "kms.toml:2: invalid value 'webhook' for key 'type' (strings must be quoted)");
}

/* ---- arrays and inline tables ------------------------------------------- */

TEST(test_toml_arrays)
{
	struct toml_value *v = parse("ints = [1, 2, 3]\nempty = []\nempty2 = [ \n # c\n ]\n"
				     "mixed = [1, \"two\", 3.0, true, [4], {five = 5}]\n"
				     "nested = [[1, 2], ['a', \"b\"], []]\n"
				     "multi = [\n  \"x\",\n  # comment\n  \"y\", # trailing\n]\n"
				     "tight=[1,2,]\n");
	CHECK_MSG(v, "%s", g_err.msg);
	const struct toml_value *a = toml_get(v, "ints");
	CHECK_EQ_INT(toml_type(a), TOML_ARRAY);
	CHECK_EQ_INT(toml_array_len(a), 3);
	CHECK_EQ_INT(toml_int(toml_array_at(a, 2)), 3);
	CHECK(toml_array_at(a, 3) == NULL);
	CHECK_EQ_INT(toml_array_len(toml_get(v, "empty")), 0);
	CHECK_EQ_INT(toml_array_len(toml_get(v, "empty2")), 0);
	const struct toml_value *m = toml_get(v, "mixed");
	CHECK_EQ_INT(toml_array_len(m), 6);
	CHECK_EQ_INT(toml_type(toml_array_at(m, 0)), TOML_INT);
	CHECK_EQ_STR(toml_string(toml_array_at(m, 1)), "two");
	CHECK_EQ_INT(toml_type(toml_array_at(m, 2)), TOML_FLOAT);
	CHECK_EQ_INT(toml_type(toml_array_at(m, 3)), TOML_BOOL);
	CHECK_EQ_INT(toml_int(toml_array_at(toml_array_at(m, 4), 0)), 4);
	CHECK_EQ_INT(toml_int(toml_get(toml_array_at(m, 5), "five")), 5);
	const struct toml_value *n = toml_get(v, "nested");
	CHECK_EQ_INT(toml_array_len(n), 3);
	CHECK_EQ_STR(toml_string(toml_array_at(toml_array_at(n, 1), 1)), "b");
	const struct toml_value *ml = toml_get(v, "multi");
	CHECK_EQ_INT(toml_array_len(ml), 2);
	CHECK_EQ_STR(toml_string(toml_array_at(ml, 1)), "y");
	CHECK_EQ_INT(toml_line(toml_array_at(ml, 1)), 11);
	CHECK_EQ_INT(toml_array_len(toml_get(v, "tight")), 2);
	toml_free(v);
}

TEST(test_toml_rejects_bad_arrays)
{
	CHECK_EQ_STR(parse_err("a = [,]\n"),
		     "kms.toml:1: invalid value for key 'a': unexpected ','");
	CHECK_EQ_STR(parse_err("a = [1,,2]\n"),
		     "kms.toml:1: invalid value for key 'a': unexpected ','");
	CHECK_EQ_STR(parse_err("a = [1 2]\n"),
		     "kms.toml:1: expected ',' or ']' in array of key 'a', found '2'");
	CHECK_EQ_STR(parse_err("x = 0\na = [1,\n2,\n"),
		     "kms.toml:2: unterminated array for key 'a'");
	CHECK_EQ_STR(parse_err("a = [1\n"), "kms.toml:1: unterminated array for key 'a'");
	CHECK_EQ_STR(parse_err("a = [\n\"x\",\n\"y\n]\n"), "kms.toml:3: unterminated string");
	CHECK_EQ_STR(parse_err("a = [1, 01]\n"),
		     "kms.toml:1: invalid value '01' for key 'a': leading zeros are not allowed");
}

TEST(test_toml_inline_tables)
{
	struct toml_value *v = parse("name = { first = \"Tom\", last = \"Preston-Werner\" }\n"
				     "point = {x=1,y=2}\nempty = {}\nempty2 = {   }\n"
				     "animal = { type.name = \"pug\", type.size = 'S' }\n"
				     "deep = { a = { b = [1, { c = true }] } }\n");
	CHECK_MSG(v, "%s", g_err.msg);
	const struct toml_value *name = toml_get(v, "name");
	CHECK_EQ_INT(toml_type(name), TOML_TABLE);
	CHECK_EQ_STR(toml_string(toml_get(name, "last")), "Preston-Werner");
	const struct toml_value *val;
	CHECK_EQ_STR(toml_table_key(name, 0, &val), "first");
	CHECK_EQ_STR(toml_string(val), "Tom");
	CHECK_EQ_INT(toml_int(toml_get_path(v, "point.y")), 2);
	CHECK_EQ_INT(toml_table_len(toml_get(v, "empty")), 0);
	CHECK_EQ_INT(toml_table_len(toml_get(v, "empty2")), 0);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "animal.type.size")), "S");
	const struct toml_value *b = toml_get_path(v, "deep.a.b");
	CHECK_EQ_INT(toml_bool(toml_get(toml_array_at(b, 1), "c")), 1);
	toml_free(v);
}

TEST(test_toml_rejects_bad_inline_tables)
{
	CHECK_EQ_STR(parse_err("a = {x = 1,}\n"),
		     "kms.toml:1: trailing comma in inline table of key 'a'");
	CHECK_EQ_STR(parse_err("a = {x = 1,\ny = 2}\n"),
		     "kms.toml:1: unterminated inline table for key 'a' (it must end on the same "
		     "line)");
	CHECK_EQ_STR(parse_err("a = {x = 1"),
		     "kms.toml:1: unterminated inline table for key 'a' (it must end on the same "
		     "line)");
	CHECK_EQ_STR(parse_err("a = {x = 1 y = 2}\n"),
		     "kms.toml:1: expected ',' or '}' in inline table of key 'a', found 'y'");
	CHECK_EQ_STR(parse_err("a = {x = 1, x = 2}\n"), "kms.toml:1: duplicate key 'x'");
	CHECK_EQ_STR(parse_err("a = {x 1}\n"), "kms.toml:1: expected '=' after key 'x', found '1'");
	CHECK_EQ_STR(parse_err("a = {,}\n"), "kms.toml:1: expected a key, found ','");
	CHECK_EQ_STR(parse_err("a = {x = }\n"),
		     "kms.toml:1: invalid value for key 'x': unexpected '}'");
	CHECK_EQ_STR(parse_err("a = {x = 1 # c\n}\n"),
		     "kms.toml:1: expected ',' or '}' in inline table of key 'a', found '#'");
	/* Inline tables are closed: no header, no dotted key may add to them. */
	CHECK_EQ_STR(parse_err("a = {x = 1}\n[a]\n"), "kms.toml:2: duplicate table [a]");
	CHECK_EQ_STR(parse_err("a = {x = 1}\n[a.b]\n"),
		     "kms.toml:2: cannot define table [a.b]: 'a' is an inline table and cannot "
		     "be extended");
	CHECK_EQ_STR(parse_err("a = {x = 1}\na.y = 2\n"),
		     "kms.toml:2: cannot set key 'a.y': table 'a' is already defined elsewhere");
	CHECK_EQ_STR(parse_err("a = {b = {c = 1}, b.d = 2}\n"),
		     "kms.toml:1: cannot set key 'b.d': table 'b' is already defined elsewhere");
}

/* ---- refused features and bounds ---------------------------------------- */

TEST(test_toml_rejects_arrays_of_tables)
{
	CHECK_EQ_STR(parse_err("a = 1\n[[products]]\nname = \"x\"\n"),
		     "kms.toml:2: arrays of tables ([[...]]) are not supported");
	CHECK_EQ_STR(parse_err("[ [x]]\n"), "kms.toml:1: expected a key, found '['");
}

TEST(test_toml_rejects_dates_and_times)
{
	CHECK_EQ_STR(parse_err("odt = 1979-05-27T07:32:00Z\n"),
		     "kms.toml:1: dates and times are not supported (key 'odt')");
	CHECK_EQ_STR(parse_err("\nodt = 1979-05-27 07:32:00-07:00\n"),
		     "kms.toml:2: dates and times are not supported (key 'odt')");
	CHECK_EQ_STR(parse_err("ldt = 1979-05-27T00:32:00.999999\n"),
		     "kms.toml:1: dates and times are not supported (key 'ldt')");
	CHECK_EQ_STR(parse_err("ld = 1979-05-27\n"),
		     "kms.toml:1: dates and times are not supported (key 'ld')");
	CHECK_EQ_STR(parse_err("lt = 07:32:00\n"),
		     "kms.toml:1: dates and times are not supported (key 'lt')");
	CHECK_EQ_STR(parse_err("a = [1, 00:32:00]\n"),
		     "kms.toml:1: dates and times are not supported (key 'a')");
}

TEST(test_toml_refuses_input_over_one_mib)
{
	size_t n = TOML_MAX_INPUT + 1;
	char *big = malloc(n);
	CHECK(big);
	memset(big, '#', n);
	big[n - 1] = '\n';
	const char *msg = parse_err_n(big, n);
	CHECK_EQ_STR(msg, "kms.toml:1: input is larger than 1048576 bytes");
	/* Exactly 1 MiB is accepted. */
	struct toml_value *v = toml_parse(big, n - 1, "kms.toml", &g_err);
	free(big);
	CHECK_MSG(v, "%s", g_err.msg);
	toml_free(v);
}

TEST(test_toml_limits_nesting_depth)
{
	char doc[256];
	/* 32 nested arrays are fine, 33 are not. */
	int n = snprintf(doc, sizeof doc, "a = %.*s%.*s\n", 32, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
			 32, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	struct toml_value *v = toml_parse(doc, (size_t)n, "kms.toml", &g_err);
	CHECK_MSG(v, "%s", g_err.msg);
	toml_free(v);
	n = snprintf(doc, sizeof doc, "a = %.*s%.*s\n", 33, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 33,
		     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	CHECK_EQ_STR(parse_err_n(doc, (size_t)n),
		     "kms.toml:1: nesting deeper than 32 levels (key 'a')");
	/* Inline tables count the same way. */
	CHECK_EQ_STR(parse_err("a = {b={c={d={e={f={g={h={i={j={k={l={m={n={o={p={q={r={s={t={u={"
			       "v={w={x={y={z={A={B={C={D={E={F={G=1}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}"
			       "\n"),
		     "kms.toml:1: nesting deeper than 32 levels (key 'G')");
	/* Headers and dotted keys add up: a 32-part header leaves no room. */
	CHECK_EQ_STR(parse_err("[a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a]\n"
			       "x = 1\n"),
		     "kms.toml:2: nesting deeper than 32 levels (key 'x')");
	CHECK_EQ_STR(
	    parse_err("a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a = 1\n"),
	    "kms.toml:1: key has more than 32 parts");
	v = parse("[a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a]\nx = 1\n");
	CHECK_MSG(v, "%s", g_err.msg);
	toml_free(v);
}

TEST(test_toml_never_reads_past_len)
{
	/* The bytes after len are valid TOML that would change the result. */
	const char text[] = "port = 9100\"garbage";
	struct toml_value *v = toml_parse(text, 9, "kms.toml", &g_err); /* "port = 91" */
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_int(toml_get(v, "port")), 91);
	toml_free(v);
	CHECK_EQ_STR(parse_err_n("s = \"abc\"", 8), "kms.toml:1: unterminated string");
	CHECK_EQ_STR(parse_err_n("s = \"\"\"abc\"\"\"", 11), "kms.toml:1: unterminated string");
	CHECK_EQ_STR(parse_err_n("s = \"\\u00e9\"", 9),
		     "kms.toml:1: invalid escape '\\u': needs 4 hex digits");
	CHECK_EQ_STR(parse_err_n("a = true", 6),
		     "kms.toml:1: invalid value 'tr' for key 'a' (strings must be quoted)");
	CHECK_EQ_STR(parse_err_n("[abc]", 4),
		     "kms.toml:1: expected ']' after table name 'abc', found end of file");
	CHECK_EQ_STR(parse_err_n("a = \xC3\xA9", 5),
		     "kms.toml:1: invalid UTF-8 (truncated sequence)");
	CHECK_EQ_STR(parse_err_n("a = 1\r\n", 6),
		     "kms.toml:1: carriage return not followed by a newline");
}

/* ---- iteration, lines, lookup ------------------------------------------- */

TEST(test_toml_table_key_iterates_in_definition_order)
{
	struct toml_value *v = parse("zeta = 1\nalpha = 2\n[mid]\nb = 3\n[mid.sub]\n[first]\n");
	CHECK_MSG(v, "%s", g_err.msg);
	const char *want[] = {"zeta", "alpha", "mid", "first"};
	CHECK_EQ_INT(toml_table_len(v), 4);
	for (size_t i = 0; i < 4; i++) {
		const struct toml_value *val = NULL;
		CHECK_EQ_STR(toml_table_key(v, i, &val), want[i]);
		CHECK(val != NULL);
	}
	const struct toml_value *val = v;
	CHECK(toml_table_key(v, 4, &val) == NULL && val == NULL);
	const struct toml_value *mid = toml_get(v, "mid");
	CHECK_EQ_INT(toml_table_len(mid), 2);
	CHECK_EQ_STR(toml_table_key(mid, 1, NULL), "sub");
	toml_free(v);
}

TEST(test_toml_line_numbers_after_multiline_values)
{
	struct toml_value *v = parse("# 1\n"
				     "a = \"\"\"\n"	/* 2 */
				     "x\n"		/* 3 */
				     "y\"\"\"\n"	/* 4 */
				     "b = [\n"		/* 5 */
				     "  1,\n"		/* 6 */
				     "  # c\n"		/* 7 */
				     "  2,\n"		/* 8 */
				     "]\n"		/* 9 */
				     "c = '''\n\n'''\n" /* 10-12 */
				     "\n"		/* 13 */
				     "[t]\r\n"		/* 14 */
				     "d = \"\"\"\\\n"	/* 15 */
				     "   \n"		/* 16 */
				     "   z\"\"\"\n"	/* 17 */
				     "e = 5\n");	/* 18 */
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_line(toml_get(v, "a")), 2);
	CHECK_EQ_INT(toml_line(toml_get(v, "b")), 5);
	CHECK_EQ_INT(toml_line(toml_array_at(toml_get(v, "b"), 1)), 8);
	CHECK_EQ_INT(toml_line(toml_get(v, "c")), 10);
	CHECK_EQ_INT(toml_line(toml_get(v, "t")), 14);
	CHECK_EQ_INT(toml_line(toml_get_path(v, "t.d")), 15);
	CHECK_EQ_INT(toml_line(toml_get_path(v, "t.e")), 18);
	CHECK_EQ_INT(toml_line(v), 1);
	toml_free(v);
	/* And errors after them. */
	CHECK_EQ_STR(parse_err("a = \"\"\"\n\n\n\"\"\"\nb = [\n1,\n2]\nc = 1\nc = 2\n"),
		     "kms.toml:9: duplicate key 'c'");
}

TEST(test_toml_get_path_and_wrong_type_accessors)
{
	struct toml_value *v = parse("[core.auth_api.webhook]\nurl = \"http://127.0.0.1:9200\"\n"
				     "[x]\n\"a.b\" = 1\n");
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.auth_api.webhook.url")),
		     "http://127.0.0.1:9200");
	CHECK(toml_get_path(v, "core.auth_api.missing") == NULL);
	CHECK(toml_get_path(v, "core.auth_api.webhook.url.more") == NULL);
	CHECK(toml_get_path(v, "core..auth_api") == NULL);
	CHECK(toml_get_path(v, "") == NULL);
	CHECK(toml_get_path(v, "x.a.b") == NULL); /* documented: dots in keys unreachable */
	CHECK_EQ_INT(toml_int(toml_get(toml_get(v, "x"), "a.b")), 1);
	/* Accessors on the wrong type are safe and neutral. */
	const struct toml_value *url = toml_get_path(v, "core.auth_api.webhook.url");
	CHECK(toml_int(url) == 0 && toml_bool(url) == 0 && toml_float(url) == 0.0);
	CHECK(toml_array_len(url) == 0 && toml_array_at(url, 0) == NULL);
	CHECK(toml_table_len(url) == 0 && toml_get(url, "x") == NULL);
	CHECK(toml_string(toml_get(v, "core")) == NULL);
	CHECK(toml_get(NULL, "x") == NULL && toml_line(NULL) == 0);
	CHECK_EQ_STR(toml_type_name(TOML_INT), "integer");
	CHECK_EQ_STR(toml_type_name(TOML_BOOL), "boolean");
	CHECK_EQ_STR(toml_type_name(TOML_TABLE), "table");
	CHECK_EQ_STR(toml_type_name(TOML_ARRAY), "array");
	CHECK_EQ_STR(toml_type_name(TOML_FLOAT), "float");
	CHECK_EQ_STR(toml_type_name(TOML_STRING), "string");
	toml_free(v);
	toml_free(NULL);
}

TEST(test_toml_large_tables_find_every_key)
{
	/* Enough keys to go through the hash index and several re-indexings. */
	size_t cap = 5000 * 24;
	char *doc = malloc(cap);
	CHECK(doc);
	size_t len = 0;
	for (int i = 0; i < 5000; i++)
		len += (size_t)snprintf(doc + len, cap - len, "key_%d = %d\n", i, i * 7);
	struct toml_value *v = toml_parse(doc, len, "kms.toml", &g_err);
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_table_len(v), 5000);
	for (int i = 0; i < 5000; i++) {
		char k[32];
		snprintf(k, sizeof k, "key_%d", i);
		const struct toml_value *x = toml_get(v, k);
		CHECK_MSG(x && toml_int(x) == i * 7 && toml_line(x) == i + 1, "key %s", k);
		const struct toml_value *val;
		CHECK_EQ_STR(toml_table_key(v, (size_t)i, &val), k);
	}
	CHECK(toml_get(v, "key_5000") == NULL);
	toml_free(v);
	len += (size_t)snprintf(doc + len, cap - len, "key_4321 = 1\n");
	CHECK_EQ_STR(parse_err_n(doc, len), "kms.toml:5001: duplicate key 'key_4321'");
	free(doc);
}

TEST(test_toml_error_name_comes_from_caller)
{
	struct err e;
	CHECK(toml_parse("a = \n", 5, "/etc/kms/kms.toml", &e) == NULL);
	CHECK_EQ_STR(e.msg, "/etc/kms/kms.toml:1: missing value for key 'a'");
	CHECK(toml_parse("a = \n", 5, NULL, &e) == NULL);
	CHECK_EQ_STR(e.msg, "<toml>:1: missing value for key 'a'");
	CHECK(toml_parse("a = \n", 5, "x", NULL) == NULL); /* err is optional */
	CHECK(toml_parse(NULL, 3, "x", &e) == NULL);
	CHECK_EQ_STR(e.msg, "x:1: no input");
}

/* ---- real configuration files ------------------------------------------- */

/* The KMS defaults as kms-protocol §14 / deployment-and-users §2.6 list them,
 * laid out the way our deploy/examples/kms.toml is. */
static const char upstream_style[] =
    "# dstack KMS configuration\n"
    "\n"
    "[default]\n"
    "workers = 8\n"
    "max_blocking = 64\n"
    "ident = \"DStack KMS\"\n"
    "temp_dir = \"/tmp\"\n"
    "keep_alive = 10\n"
    "log_level = \"debug\"\n"
    "\n"
    "[rpc]\n"
    "address = \"0.0.0.0\"\n"
    "port = 8000\n"
    "\n"
    "[rpc.tls]\n"
    "key = \"/etc/kms/certs/rpc.key\"\n"
    "certs = \"/etc/kms/certs/rpc.crt\"\n"
    "\n"
    "[rpc.tls.mutual]\n"
    "ca_certs = \"/etc/kms/certs/tmp-ca.crt\"\n"
    "mandatory = false\n"
    "\n"
    "[core]\n"
    "cert_dir = \"/etc/kms/certs\"\n"
    "subject_postfix = \".dstack\"\n"
    "site_name = \"\"\n"
    "enforce_self_authorization = true\n"
    "attest_rpc_cert = true\n"
    "sev_snp_key_release = false\n"
    "aws_nitro_tpm_key_release = false\n"
    "\n"
    "[core.attestation]\n"
    "insecure_allow_external_trust_anchors = false\n"
    "\n"
    "[core.attestation.urls]\n"
    "pccs = \"https://pccs.phala.network\"\n"
    "amd_kds = \"https://kdsintf.amd.com/vcek/v1\"\n"
    "\n"
    "[core.attestation.root_ca]\n"
    "# tdx = \"/etc/kms/roots/intel.pem\"\n"
    "\n"
    "[core.image]\n"
    "verify = true\n"
    "cache_dir = \"/usr/share/dstack/images\"\n"
    "download_url = \"http://localhost:8000/{OS_IMAGE_HASH}.tar.gz\"\n"
    "download_timeout = \"2m\"\n"
    "\n"
    "[core.admin]\n"
    "enabled = false\n"
    "address = \"127.0.0.1\"\n"
    "port = 8001\n"
    "auth_token = \"\"\n"
    "htpasswd_file = \"\"\n"
    "insecure_no_auth = false\n"
    "\n"
    "[core.metrics]\n"
    "enabled = true\n"
    "\n"
    "[core.auth_api]\n"
    "type = \"webhook\"\n"
    "\n"
    "[core.auth_api.webhook]\n"
    "url = \"http://auth-api:8000\"\n"
    "\n"
    "[core.auth_api.dev]\n"
    "gateway_app_id = \"any\"\n"
    "\n"
    "[core.onboard]\n"
    "enabled = true\n"
    "auto_bootstrap_domain = \"\"\n"
    "address = \"0.0.0.0\"\n"
    "port = 8000\n";

TEST(test_toml_reads_upstream_style_kms_toml)
{
	struct toml_value *v = parse(upstream_style);
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_int(toml_get_path(v, "default.workers")), 8);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "default.ident")), "DStack KMS");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "rpc.address")), "0.0.0.0");
	CHECK_EQ_INT(toml_int(toml_get_path(v, "rpc.port")), 8000);
	CHECK_EQ_INT(toml_line(toml_get_path(v, "rpc.port")), 13);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "rpc.tls.certs")), "/etc/kms/certs/rpc.crt");
	const struct toml_value *mandatory = toml_get_path(v, "rpc.tls.mutual.mandatory");
	CHECK(mandatory && toml_type(mandatory) == TOML_BOOL && toml_bool(mandatory) == 0);
	CHECK_EQ_INT(toml_bool(toml_get_path(v, "core.enforce_self_authorization")), 1);
	CHECK_EQ_INT(toml_bool(toml_get_path(v, "core.attest_rpc_cert")), 1);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.site_name")), "");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.attestation.urls.amd_kds")),
		     "https://kdsintf.amd.com/vcek/v1");
	const struct toml_value *root_ca = toml_get_path(v, "core.attestation.root_ca");
	CHECK(root_ca && toml_type(root_ca) == TOML_TABLE && toml_table_len(root_ca) == 0);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.image.download_url")),
		     "http://localhost:8000/{OS_IMAGE_HASH}.tar.gz");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.image.download_timeout")), "2m");
	CHECK_EQ_INT(toml_int(toml_get_path(v, "core.admin.port")), 8001);
	CHECK_EQ_INT(toml_line(toml_get_path(v, "core.admin.port")), 51);
	CHECK_EQ_INT(toml_bool(toml_get_path(v, "core.metrics.enabled")), 1);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.auth_api.type")), "webhook");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.auth_api.webhook.url")),
		     "http://auth-api:8000");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.auth_api.dev.gateway_app_id")), "any");
	CHECK_EQ_INT(toml_int(toml_get_path(v, "core.onboard.port")), 8000);
	/* [core]'s children, in file order. */
	const struct toml_value *core = toml_get(v, "core");
	const char *want[] = {"cert_dir",
			      "subject_postfix",
			      "site_name",
			      "enforce_self_authorization",
			      "attest_rpc_cert",
			      "sev_snp_key_release",
			      "aws_nitro_tpm_key_release",
			      "attestation",
			      "image",
			      "admin",
			      "metrics",
			      "auth_api",
			      "onboard"};
	CHECK_EQ_INT(toml_table_len(core), 13);
	for (size_t i = 0; i < 13; i++)
		CHECK_EQ_STR(toml_table_key(core, i, NULL), want[i]);
	toml_free(v);
}

/* What the dstack-info seed writes to /etc/kms/kms.toml (deployment-and-users
 * §1.4), with the playbook defaults filled in, written with CRLF-free LF. */
static const char seed_style[] = "[default]\n"
				 "workers = 8\n"
				 "max_blocking = 64\n"
				 "ident = \"DStack KMS\"\n"
				 "temp_dir = \"/tmp\"\n"
				 "keep_alive = 10\n"
				 "log_level = \"info\"\n"
				 "\n"
				 "[rpc]\n"
				 "address = \"0.0.0.0\"\n"
				 "port = 9100\n"
				 "\n"
				 "[rpc.tls]\n"
				 "key = \"/etc/kms/certs/rpc.key\"\n"
				 "certs = \"/etc/kms/certs/rpc.crt\"\n"
				 "\n"
				 "[rpc.tls.mutual]\n"
				 "ca_certs = \"/etc/kms/certs/tmp-ca.crt\"\n"
				 "mandatory = false\n"
				 "\n"
				 "[core]\n"
				 "cert_dir = \"/etc/kms/certs\"\n"
				 "subject_postfix = \".dstack\"\n"
				 "pccs_url = "
				 "\"https://api.trustedservices.intel.com/tdx/certification/v4\"\n"
				 "\n"
				 "[core.auth_api]\n"
				 "type = \"webhook\"\n"
				 "\n"
				 "[core.auth_api.webhook]\n"
				 "url = \"http://127.0.0.1:9200\"\n"
				 "\n"
				 "[core.onboard]\n"
				 "enabled = true\n"
				 "auto_bootstrap_domain = \"\"\n"
				 "quote_enabled = false\n"
				 "address = \"0.0.0.0\"\n"
				 "port = 9100\n";

TEST(test_toml_reads_seed_style_kms_toml)
{
	struct toml_value *v = parse(seed_style);
	CHECK_MSG(v, "%s", g_err.msg);
	const struct toml_value *def = toml_get(v, "default");
	CHECK_EQ_INT(toml_table_len(def), 6);
	CHECK_EQ_INT(toml_int(toml_get(def, "workers")), 8);
	CHECK_EQ_INT(toml_int(toml_get(def, "max_blocking")), 64);
	CHECK_EQ_INT(toml_int(toml_get(def, "keep_alive")), 10);
	CHECK_EQ_STR(toml_string(toml_get(def, "temp_dir")), "/tmp");
	CHECK_EQ_STR(toml_string(toml_get(def, "log_level")), "info");
	CHECK_EQ_INT(toml_int(toml_get_path(v, "rpc.port")), 9100);
	CHECK_EQ_INT(toml_line(toml_get_path(v, "rpc.port")), 11);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "rpc.tls.mutual.ca_certs")),
		     "/etc/kms/certs/tmp-ca.crt");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.pccs_url")),
		     "https://api.trustedservices.intel.com/tdx/certification/v4");
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.auth_api.webhook.url")),
		     "http://127.0.0.1:9200");
	CHECK_EQ_INT(toml_bool(toml_get_path(v, "core.onboard.quote_enabled")), 0);
	CHECK_EQ_INT(toml_bool(toml_get_path(v, "core.onboard.enabled")), 1);
	CHECK_EQ_INT(toml_line(toml_get_path(v, "core.onboard.port")), 37);
	toml_free(v);

	/* The same file with CRLF line ends and a BOM (edited on Windows) reads alike. */
	size_t n = strlen(seed_style);
	char *crlf = malloc(3 + 2 * n);
	CHECK(crlf);
	size_t m = 0;
	memcpy(crlf, "\xEF\xBB\xBF", 3);
	m = 3;
	for (size_t i = 0; i < n; i++) {
		if (seed_style[i] == '\n')
			crlf[m++] = '\r';
		crlf[m++] = seed_style[i];
	}
	v = toml_parse(crlf, m, "kms.toml", &g_err);
	free(crlf);
	CHECK_MSG(v, "%s", g_err.msg);
	CHECK_EQ_INT(toml_line(toml_get_path(v, "core.onboard.port")), 37);
	CHECK_EQ_STR(toml_string(toml_get_path(v, "core.auth_api.webhook.url")),
		     "http://127.0.0.1:9200");
	toml_free(v);

	/* Typical operator mistakes in that file, with the message they get. */
	char *bad = malloc(n + 64);
	CHECK(bad);
	snprintf(bad, n + 64, "%s[rpc]\nport = 1\n", seed_style);
	CHECK_EQ_STR(parse_err(bad), "kms.toml:38: duplicate table [rpc]");
	snprintf(bad, n + 64, "%sport = 9200\n", seed_style);
	CHECK_EQ_STR(parse_err(bad), "kms.toml:38: duplicate key 'port'");
	snprintf(bad, n + 64, "%sretries 3\n", seed_style);
	CHECK_EQ_STR(parse_err(bad), "kms.toml:38: expected '=' after key 'retries', found '3'");
	free(bad);
}
