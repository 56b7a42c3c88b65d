/*
 * test_prpc_json.c — the prpc JSON and query-string mapping (kms-protocol
 * §2.2, §2.3, §3). Expected JSON strings are written by hand from the spec's
 * rules (serde_json layout), encoder output is re-parsed with jansson, and
 * protobuf compatibility is checked against hand-computed wire bytes and
 * `protoc --decode_raw`.
 */
#include "harness.h"

#include "prpc/prpc_json.h"
#include "util/buf.h"
#include "util/err.h"

#include "kms_rpc.pb-c.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIN(arr) ((ProtobufCBinaryData){sizeof(arr), (uint8_t *)(arr)})
#define NOBIN ((ProtobufCBinaryData){0, NULL})

static const ProtobufCMessageDescriptor *const ALL_DESCS[] = {
    &kms__empty__descriptor,
    &kms__proto_error__descriptor,
    &kms__get_app_key_request__descriptor,
    &kms__app_id__descriptor,
    &kms__public_key_response__descriptor,
    &kms__app_key_response__descriptor,
    &kms__bootstrap_response__descriptor,
    &kms__get_meta_response__descriptor,
    &kms__get_kms_key_request__descriptor,
    &kms__kms_keys__descriptor,
    &kms__kms_key_response__descriptor,
    &kms__get_temp_ca_cert_response__descriptor,
    &kms__sign_cert_request__descriptor,
    &kms__sign_cert_response__descriptor,
    &kms__clear_image_cache_request__descriptor,
    &kms__bootstrap_request__descriptor,
    &kms__onboard_request__descriptor,
    &kms__onboard_response__descriptor,
    &kms__attestation_info_response__descriptor,
};
#define N_DESCS (sizeof ALL_DESCS / sizeof ALL_DESCS[0])

/* JSON of m as a malloc'd string, or NULL (message in *err). */
static char *enc(const ProtobufCMessage *m, struct err *err)
{
	struct buf b = BUF_INIT;
	if (prpc_json_encode(m, &b, err) < 0) {
		buf_free(&b);
		return NULL;
	}
	char *s = strdup(buf_str(&b));
	buf_free(&b);
	return s;
}

static ProtobufCMessage *dec(const ProtobufCMessageDescriptor *d, const char *json, struct err *e)
{
	err_clear(e);
	return prpc_json_decode(d, json, strlen(json), e);
}

static ProtobufCMessage *qdec(const ProtobufCMessageDescriptor *d, const char *q, struct err *e)
{
	err_clear(e);
	return prpc_query_decode(d, q, strlen(q), e);
}

/* Protobuf wire bytes of m as lowercase hex (malloc'd). */
static char *pack_hex(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(n + 1);
	char *h = malloc(2 * n + 1);
	if (!p || !h) {
		free(p);
		free(h);
		return NULL;
	}
	protobuf_c_message_pack(m, p);
	for (size_t i = 0; i < n; i++)
		snprintf(h + 2 * i, 3, "%02x", p[i]);
	h[2 * n] = 0;
	free(p);
	return h;
}

/*
 * Encodes m, compares with expect (if not NULL), checks jansson parses the
 * output as an object with one key per field, decodes it back and checks the
 * protobuf encodings of both messages are identical and the decoded message
 * re-encodes to the same JSON. Returns NULL or a static failure reason.
 */
static const char *roundtrip(const ProtobufCMessage *m, const char *expect)
{
	static char why[8192];
	struct err e;
	err_clear(&e);
	char *json = enc(m, &e);
	if (!json) {
		snprintf(why, sizeof why, "encode failed: %s", e.msg);
		return why;
	}
	const char *fail = NULL;
	char *p1 = NULL, *p2 = NULL, *json2 = NULL;
	ProtobufCMessage *back = NULL;
	if (expect && strcmp(json, expect) != 0) {
		snprintf(why, sizeof why, "got %s, expected %s", json, expect);
		fail = why;
		goto out;
	}
	json_error_t jerr;
	json_t *root = json_loads(json, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
	if (!root || !json_is_object(root) || json_object_size(root) != m->descriptor->n_fields) {
		snprintf(why, sizeof why, "jansson rejects %s: %s", json,
			 root ? "shape" : jerr.text);
		json_decref(root);
		fail = why;
		goto out;
	}
	json_decref(root);
	back = prpc_json_decode(m->descriptor, json, strlen(json), &e);
	if (!back) {
		snprintf(why, sizeof why, "decode of %s failed: %s", json, e.msg);
		fail = why;
		goto out;
	}
	p1 = pack_hex(m);
	p2 = pack_hex(back);
	if (!p1 || !p2 || strcmp(p1, p2) != 0) {
		snprintf(why, sizeof why, "protobuf differs after JSON round trip: %s vs %s",
			 p1 ? p1 : "?", p2 ? p2 : "?");
		fail = why;
		goto out;
	}
	json2 = enc(back, &e);
	if (!json2 || strcmp(json, json2) != 0) {
		snprintf(why, sizeof why, "re-encoding differs: %s", json2 ? json2 : e.msg);
		fail = why;
	}
out:
	free(json);
	free(json2);
	free(p1);
	free(p2);
	/* the generic free must handle what the decoder allocates */
	protobuf_c_message_free_unpacked(back, NULL);
	return fail;
}

/* ---- encoding, exact strings --------------------------------------------- */

TEST(test_prpc_json_encodes_get_app_key_request_compactly)
{
	Kms__GetAppKeyRequest r = KMS__GET_APP_KEY_REQUEST__INIT;
	r.api_version = 1;
	r.vm_config = "{\"os_image_hash\":\"ab\"}\n";
	const char *why = roundtrip(&r.base, "{\"api_version\":1,\"vm_config\":"
					     "\"{\\\"os_image_hash\\\":\\\"ab\\\"}\\n\"}");
	CHECK_MSG(!why, "%s", why);
}

TEST(test_prpc_json_encodes_app_key_response_bytes_as_lowercase_hex)
{
	static uint8_t disk[] = {0x01, 0x02, 0xab, 0xff}, k256[] = {0xde, 0xad, 0xbe, 0xef},
		       sig[] = {0x00}, os[] = {0xca, 0xfe};
	Kms__AppKeyResponse r = KMS__APP_KEY_RESPONSE__INIT;
	r.ca_cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	r.disk_crypt_key = BIN(disk);
	r.env_crypt_key = NOBIN;
	r.k256_key = BIN(k256);
	r.k256_signature = BIN(sig);
	r.tproxy_app_id = "tproxy";
	r.gateway_app_id = "gw";
	r.os_image_hash = BIN(os);
	const char *why = roundtrip(
	    &r.base, "{\"ca_cert\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END "
		     "CERTIFICATE-----\\n\",\"disk_crypt_key\":\"0102abff\",\"env_crypt_key\":\"\","
		     "\"k256_key\":\"deadbeef\",\"k256_signature\":\"00\",\"tproxy_app_id\":"
		     "\"tproxy\",\"gateway_app_id\":\"gw\",\"os_image_hash\":\"cafe\"}");
	CHECK_MSG(!why, "%s", why);
}

TEST(test_prpc_json_get_meta_renders_unset_optionals_and_message_as_null)
{
	Kms__GetMetaResponse r = KMS__GET_META_RESPONSE__INIT;
	const char *why =
	    roundtrip(&r.base, "{\"ca_cert\":\"\",\"allow_any_upgrade\":false,\"k256_pubkey\":\"\","
			       "\"bootstrap_info\":null,\"is_dev\":false,\"gateway_app_id\":null,"
			       "\"kms_contract_address\":null,\"chain_id\":null,"
			       "\"app_auth_implementation\":null}");
	CHECK_MSG(!why, "%s", why);
}

TEST(test_prpc_json_get_meta_full_with_u64_max_roundtrips)
{
	static uint8_t pk[] = {0x02, 0x11}, ca[] = {0x30}, k[] = {0x03};
	Kms__BootstrapResponse bi = KMS__BOOTSTRAP_RESPONSE__INIT;
	bi.ca_pubkey = BIN(ca);
	bi.k256_pubkey = BIN(k);
	Kms__GetMetaResponse r = KMS__GET_META_RESPONSE__INIT;
	r.ca_cert = "ca";
	r.allow_any_upgrade = 1;
	r.k256_pubkey = BIN(pk);
	r.bootstrap_info = &bi;
	r._gateway_app_id_case = KMS__GET_META_RESPONSE___GATEWAY_APP_ID_GATEWAY_APP_ID;
	r.gateway_app_id = ""; /* a literal, not protobuf_c_empty_string: packed */
	r._kms_contract_address_case =
	    KMS__GET_META_RESPONSE___KMS_CONTRACT_ADDRESS_KMS_CONTRACT_ADDRESS;
	r.kms_contract_address = "0xabc";
	r._chain_id_case = KMS__GET_META_RESPONSE___CHAIN_ID_CHAIN_ID;
	r.chain_id = UINT64_MAX;
	const char *why = roundtrip(
	    &r.base,
	    "{\"ca_cert\":\"ca\",\"allow_any_upgrade\":true,\"k256_pubkey\":\"0211\","
	    "\"bootstrap_info\":{\"ca_pubkey\":\"30\",\"k256_pubkey\":\"03\",\"attestation\":\"\"},"
	    "\"is_dev\":false,\"gateway_app_id\":\"\",\"kms_contract_address\":\"0xabc\","
	    "\"chain_id\":18446744073709551615,\"app_auth_implementation\":null}");
	CHECK_MSG(!why, "%s", why);
}

TEST(test_prpc_json_encodes_repeated_fields_as_arrays)
{
	static uint8_t one[] = {1};
	Kms__KmsKeys k1 = KMS__KMS_KEYS__INIT, k2 = KMS__KMS_KEYS__INIT;
	k1.ca_key = "a";
	k1.k256_key = BIN(one);
	k2.ca_key = "b";
	Kms__KmsKeys *keys[] = {&k1, &k2};
	Kms__KmsKeyResponse r = KMS__KMS_KEY_RESPONSE__INIT;
	r.temp_ca_key = "k";
	const char *why = roundtrip(&r.base, "{\"temp_ca_key\":\"k\",\"keys\":[]}");
	CHECK_MSG(!why, "%s", why);
	r.n_keys = 2;
	r.keys = keys;
	why = roundtrip(&r.base, "{\"temp_ca_key\":\"k\",\"keys\":[{\"ca_key\":\"a\",\"k256_key\":"
				 "\"01\"},{\"ca_key\":\"b\",\"k256_key\":\"\"}]}");
	CHECK_MSG(!why, "%s", why);

	char *chain[] = {"x", "y\"z"};
	Kms__SignCertResponse s = KMS__SIGN_CERT_RESPONSE__INIT;
	s.n_certificate_chain = 2;
	s.certificate_chain = chain;
	why = roundtrip(&s.base, "{\"certificate_chain\":[\"x\",\"y\\\"z\"]}");
	CHECK_MSG(!why, "%s", why);
}

TEST(test_prpc_json_encodes_public_key_response_timestamp_as_number)
{
	static uint8_t pub[] = {0x04, 0xaa}, v1[] = {0xff};
	Kms__PublicKeyResponse r = KMS__PUBLIC_KEY_RESPONSE__INIT;
	r.public_key = BIN(pub);
	r.timestamp = 1700000000;
	r.signature_v1 = BIN(v1);
	const char *why = roundtrip(&r.base, "{\"public_key\":\"04aa\",\"signature\":\"\","
					     "\"timestamp\":1700000000,\"signature_v1\":\"ff\"}");
	CHECK_MSG(!why, "%s", why);
}

TEST(test_prpc_json_roundtrips_every_message_type)
{
	static uint8_t a[] = {0x00, 0x01, 0x7f, 0x80, 0xff}, b[] = {0x12, 0x34},
		       c[32] = {0xaa, 0xbb, [31] = 0xcc};
	const char *why;

	Kms__Empty empty = KMS__EMPTY__INIT;
	why = roundtrip(&empty.base, "{}");
	CHECK_MSG(!why, "%s", why);
	CHECK(prpc_desc_is_empty(&kms__empty__descriptor));
	CHECK(!prpc_desc_is_empty(&kms__app_id__descriptor));

	Kms__ProtoError pe = KMS__PROTO_ERROR__INIT;
	pe.message = "KMS self authorization failed: denied";
	why = roundtrip(&pe.base, "{\"message\":\"KMS self authorization failed: denied\"}");
	CHECK_MSG(!why, "%s", why);

	Kms__AppId app = KMS__APP_ID__INIT;
	app.app_id = BIN(a);
	why = roundtrip(&app.base, "{\"app_id\":\"00017f80ff\"}");
	CHECK_MSG(!why, "%s", why);

	Kms__BootstrapResponse br = KMS__BOOTSTRAP_RESPONSE__INIT;
	br.ca_pubkey = BIN(a);
	br.k256_pubkey = BIN(b);
	br.attestation = BIN(c);
	why = roundtrip(&br.base, NULL);
	CHECK_MSG(!why, "%s", why);

	Kms__GetKmsKeyRequest gk = KMS__GET_KMS_KEY_REQUEST__INIT;
	gk.vm_config = "{}";
	why = roundtrip(&gk.base, "{\"vm_config\":\"{}\"}");
	CHECK_MSG(!why, "%s", why);

	Kms__KmsKeys kk = KMS__KMS_KEYS__INIT;
	kk.ca_key = "-----BEGIN PRIVATE KEY-----\n";
	kk.k256_key = BIN(c);
	why = roundtrip(&kk.base, NULL);
	CHECK_MSG(!why, "%s", why);

	Kms__GetTempCaCertResponse tc = KMS__GET_TEMP_CA_CERT_RESPONSE__INIT;
	tc.temp_ca_cert = "cert";
	tc.temp_ca_key = "key";
	tc.ca_cert = "ca";
	why = roundtrip(&tc.base, "{\"temp_ca_cert\":\"cert\",\"temp_ca_key\":\"key\","
				  "\"ca_cert\":\"ca\"}");
	CHECK_MSG(!why, "%s", why);

	Kms__SignCertRequest sc = KMS__SIGN_CERT_REQUEST__INIT;
	sc.api_version = 4294967295u;
	sc.csr = BIN(a);
	sc.signature = BIN(b);
	sc.vm_config = "cfg";
	why = roundtrip(&sc.base, "{\"api_version\":4294967295,\"csr\":\"00017f80ff\","
				  "\"signature\":\"1234\",\"vm_config\":\"cfg\"}");
	CHECK_MSG(!why, "%s", why);

	Kms__ClearImageCacheRequest ci = KMS__CLEAR_IMAGE_CACHE_REQUEST__INIT;
	ci.image_hash = "ih";
	ci.config_hash = "ch";
	why = roundtrip(&ci.base, "{\"image_hash\":\"ih\",\"config_hash\":\"ch\"}");
	CHECK_MSG(!why, "%s", why);

	Kms__BootstrapRequest bq = KMS__BOOTSTRAP_REQUEST__INIT;
	bq.domain = "kms.example.com";
	why = roundtrip(&bq.base, "{\"domain\":\"kms.example.com\"}");
	CHECK_MSG(!why, "%s", why);

	Kms__OnboardRequest oq = KMS__ONBOARD_REQUEST__INIT;
	oq.source_url = "https://kms.example.com:8000/prpc";
	oq.domain = "d";
	why = roundtrip(&oq.base,
			"{\"source_url\":\"https://kms.example.com:8000/prpc\",\"domain\":\"d\"}");
	CHECK_MSG(!why, "%s", why);

	Kms__OnboardResponse orr = KMS__ONBOARD_RESPONSE__INIT;
	orr.k256_pubkey = BIN(b);
	why = roundtrip(&orr.base, "{\"k256_pubkey\":\"1234\"}");
	CHECK_MSG(!why, "%s", why);

	Kms__AttestationInfoResponse ai = KMS__ATTESTATION_INFO_RESPONSE__INIT;
	ai.device_id = BIN(b);
	ai.mr_aggregated = BIN(c);
	ai.os_image_hash = BIN(a);
	ai.tee_variant = "tdx";
	ai.site_name = "site";
	ai.eth_rpc_url = "http://127.0.0.1:8545";
	ai.kms_contract_address = "0x01";
	ai.ppid = BIN(b);
	why = roundtrip(&ai.base, NULL);
	CHECK_MSG(!why, "%s", why);

	/* every descriptor in the proto is covered above or by the other tests */
	for (size_t i = 0; i < N_DESCS; i++) {
		struct err e;
		CHECK_OK(prpc_desc_check(ALL_DESCS[i], &e), &e);
		ProtobufCMessage *m = prpc_message_new(ALL_DESCS[i]);
		CHECK(m != NULL);
		why = roundtrip(m, NULL);
		prpc_message_free(m);
		CHECK_MSG(!why, "%s: %s", ALL_DESCS[i]->name, why);
	}
}

TEST(test_prpc_json_escapes_strings_like_serde_json)
{
	Kms__ProtoError pe = KMS__PROTO_ERROR__INIT;
	pe.message = "q\" b\\ s/ \b\f\n\r\t \x01\x1f \x7f \xc3\xa9 \xf0\x9f\x94\x91";
	const char *why = roundtrip(&pe.base, "{\"message\":\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t "
					      "\\u0001\\u001f \x7f \xc3\xa9 \xf0\x9f\x94\x91\"}");
	CHECK_MSG(!why, "%s", why);
}

TEST(test_prpc_json_encode_rejects_invalid_utf8_and_broken_structs)
{
	struct err e;
	err_clear(&e);
	Kms__ProtoError pe = KMS__PROTO_ERROR__INIT;
	pe.message = "bad \xff";
	char *s = enc(&pe.base, &e);
	CHECK(s == NULL);
	CHECK_CONTAINS(e.msg, "field `message`");
	CHECK_CONTAINS(e.msg, "UTF-8");
	pe.message = "\xed\xa0\x80"; /* an encoded surrogate */
	CHECK((s = enc(&pe.base, &e)) == NULL);
	pe.message = "\xc0\x80"; /* overlong NUL */
	CHECK((s = enc(&pe.base, &e)) == NULL);

	Kms__AppId app = KMS__APP_ID__INIT;
	app.app_id.len = 3;
	app.app_id.data = NULL;
	CHECK((s = enc(&app.base, &e)) == NULL);
	CHECK_CONTAINS(e.msg, "app_id");

	Kms__SignCertResponse sr = KMS__SIGN_CERT_RESPONSE__INIT;
	sr.n_certificate_chain = 1;
	CHECK((s = enc(&sr.base, &e)) == NULL);
	CHECK_CONTAINS(e.msg, "certificate_chain");
	CHECK_FAILS(prpc_json_encode(NULL, NULL, &e));
}

/* ---- decoding ------------------------------------------------------------ */

TEST(test_prpc_json_decodes_known_fields_and_ignores_unknown_keys)
{
	struct err e;
	Kms__GetAppKeyRequest *r = (Kms__GetAppKeyRequest *)dec(
	    &kms__get_app_key_request__descriptor,
	    " {\"extra\":{\"a\":[1,2,{\"b\":null}],\"c\":-1.5e3},\"api_version\":7,\r\n"
	    "\"vm_config\":\"caf\\u00e9 \\ud83d\\udd11\",\"z\":true} ",
	    &e);
	CHECK_MSG(r != NULL, "%s", e.msg);
	CHECK_EQ_INT(r->api_version, 7);
	CHECK_EQ_STR(r->vm_config, "caf\xc3\xa9 \xf0\x9f\x94\x91");
	prpc_message_free(&r->base);

	/* escaped key names match; repeated unknown keys are fine (serde ignores them) */
	Kms__AppId *a = (Kms__AppId *)dec(&kms__app_id__descriptor,
					  "{\"app\\u005fid\":\"AbCd\",\"x\":1,\"x\":2}", &e);
	CHECK_MSG(a != NULL, "%s", e.msg);
	CHECK_HEX(a->app_id.data, a->app_id.len, "abcd");
	prpc_message_free(&a->base);
}

TEST(test_prpc_json_missing_fields_and_empty_body_give_defaults)
{
	struct err e;
	err_clear(&e);
	Kms__SignCertRequest *r = (Kms__SignCertRequest *)prpc_json_decode(
	    &kms__sign_cert_request__descriptor, "", 0, &e);
	CHECK_MSG(r != NULL, "%s", e.msg);
	CHECK_EQ_INT(r->api_version, 0);
	CHECK_EQ_INT(r->csr.len, 0);
	CHECK_EQ_STR(r->vm_config, "");
	protobuf_c_message_free_unpacked(&r->base, NULL);

	r = (Kms__SignCertRequest *)dec(&kms__sign_cert_request__descriptor,
					"{\"vm_config\":\"\",\"csr\":\"\"}", &e);
	CHECK_MSG(r != NULL, "%s", e.msg);
	CHECK_EQ_STR(r->vm_config, "");
	CHECK_EQ_INT(r->csr.len, 0);
	CHECK(r->signature.data == NULL);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	Kms__GetMetaResponse *m =
	    (Kms__GetMetaResponse *)dec(&kms__get_meta_response__descriptor, "{}", &e);
	CHECK_MSG(m != NULL, "%s", e.msg);
	CHECK(m->bootstrap_info == NULL);
	CHECK_EQ_INT(m->_chain_id_case, KMS__GET_META_RESPONSE___CHAIN_ID__NOT_SET);
	CHECK_EQ_INT(m->_gateway_app_id_case, KMS__GET_META_RESPONSE___GATEWAY_APP_ID__NOT_SET);
	protobuf_c_message_free_unpacked(&m->base, NULL);

	/* whitespace is not an empty payload: serde_json wants a value */
	CHECK(dec(&kms__app_id__descriptor, "  ", &e) == NULL);
	CHECK_CONTAINS(e.msg, "EOF while parsing a value");
}

TEST(test_prpc_json_bytes_accept_any_case_and_repeated_0x_prefixes)
{
	struct err e;
	const char *ok[][2] = {
	    {"{\"app_id\":\"ABcdEF09\"}", "abcdef09"}, {"{\"app_id\":\"0x1234\"}", "1234"},
	    {"{\"app_id\":\"0x0x1234\"}", "1234"},     {"{\"app_id\":\"0x\"}", ""},
	    {"{\"app_id\":\"0x0x0x\"}", ""},	       {"{\"app_id\":\"0x0xAB\"}", "ab"},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		Kms__AppId *a = (Kms__AppId *)dec(&kms__app_id__descriptor, ok[i][0], &e);
		CHECK_MSG(a != NULL, "%s: %s", ok[i][0], e.msg);
		/* t_hex_equal would memcmp a NULL pointer for empty values */
		CHECK_MSG(ok[i][1][0] ? t_hex_equal(a->app_id.data, a->app_id.len, ok[i][1])
				      : a->app_id.len == 0 && a->app_id.data == NULL,
			  "%s", ok[i][0]);
		prpc_message_free(&a->base);
	}
	/* only lowercase "0x" is a prefix (Rust trim_start_matches("0x")) */
	const char *bad[][2] = {
	    {"{\"app_id\":\"0X12\"}", "invalid character"},
	    {"{\"app_id\":\"123\"}", "odd number of digits"},
	    {"{\"app_id\":\"0x0x123\"}", "odd number of digits"},
	    {"{\"app_id\":\"zz\"}", "invalid character at position 0"},
	    {"{\"app_id\":\"12 4\"}", "invalid character at position 2"},
	    {"{\"app_id\":\"x012\"}", "invalid character"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_MSG(dec(&kms__app_id__descriptor, bad[i][0], &e) == NULL, "%s", bad[i][0]);
		CHECK_CONTAINS(e.msg, "invalid hex in field `app_id`");
		CHECK_CONTAINS(e.msg, bad[i][1]);
	}
}

TEST(test_prpc_json_optional_fields_take_value_or_null)
{
	struct err e;
	Kms__GetMetaResponse *m = (Kms__GetMetaResponse *)dec(
	    &kms__get_meta_response__descriptor,
	    "{\"gateway_app_id\":null,\"kms_contract_address\":\"\",\"chain_id\":0,"
	    "\"app_auth_implementation\":\"0xdead\",\"bootstrap_info\":null}",
	    &e);
	CHECK_MSG(m != NULL, "%s", e.msg);
	CHECK_EQ_INT(m->_gateway_app_id_case, KMS__GET_META_RESPONSE___GATEWAY_APP_ID__NOT_SET);
	CHECK_EQ_INT(m->_kms_contract_address_case,
		     KMS__GET_META_RESPONSE___KMS_CONTRACT_ADDRESS_KMS_CONTRACT_ADDRESS);
	CHECK_EQ_STR(m->kms_contract_address, "");
	CHECK_EQ_INT(m->_chain_id_case, KMS__GET_META_RESPONSE___CHAIN_ID_CHAIN_ID);
	CHECK(m->chain_id == 0);
	CHECK_EQ_STR(m->app_auth_implementation, "0xdead");
	CHECK(m->bootstrap_info == NULL);
	prpc_message_free(&m->base);

	m = (Kms__GetMetaResponse *)dec(&kms__get_meta_response__descriptor,
					"{\"chain_id\":18446744073709551615,\"bootstrap_info\":"
					"{\"ca_pubkey\":\"0x01\",\"unknown\":[]}}",
					&e);
	CHECK_MSG(m != NULL, "%s", e.msg);
	CHECK(m->chain_id == UINT64_MAX);
	CHECK(m->bootstrap_info != NULL);
	CHECK_HEX(m->bootstrap_info->ca_pubkey.data, m->bootstrap_info->ca_pubkey.len, "01");
	protobuf_c_message_free_unpacked(&m->base, NULL);
}

TEST(test_prpc_json_repeated_fields_decode_arrays)
{
	struct err e;
	Kms__KmsKeyResponse *r = (Kms__KmsKeyResponse *)dec(
	    &kms__kms_key_response__descriptor,
	    "{\"keys\":[{\"ca_key\":\"k1\",\"k256_key\":\"0xAA\"},{},{\"k256_key\":\"bb\"},"
	    "{\"ca_key\":\"k4\"},{\"ca_key\":\"k5\"}],\"temp_ca_key\":\"t\"}",
	    &e);
	CHECK_MSG(r != NULL, "%s", e.msg);
	CHECK_EQ_INT(r->n_keys, 5);
	CHECK_EQ_STR(r->keys[0]->ca_key, "k1");
	CHECK_HEX(r->keys[0]->k256_key.data, r->keys[0]->k256_key.len, "aa");
	CHECK_EQ_STR(r->keys[1]->ca_key, "");
	CHECK_HEX(r->keys[2]->k256_key.data, r->keys[2]->k256_key.len, "bb");
	CHECK_EQ_STR(r->keys[4]->ca_key, "k5");
	CHECK_EQ_STR(r->temp_ca_key, "t");
	prpc_message_free(&r->base);

	Kms__SignCertResponse *s = (Kms__SignCertResponse *)dec(
	    &kms__sign_cert_response__descriptor, "{\"certificate_chain\":[\"a\",\"\",\"c\"]}", &e);
	CHECK_MSG(s != NULL, "%s", e.msg);
	CHECK_EQ_INT(s->n_certificate_chain, 3);
	CHECK_EQ_STR(s->certificate_chain[1], "");
	CHECK_EQ_STR(s->certificate_chain[2], "c");
	protobuf_c_message_free_unpacked(&s->base, NULL);
}

struct bad_case {
	const ProtobufCMessageDescriptor *d;
	const char *json;
	const char *want; /* substring of the error */
};

static const char *check_bad(const struct bad_case *c, size_t n)
{
	static char why[4096];
	for (size_t i = 0; i < n; i++) {
		struct err e;
		err_clear(&e);
		ProtobufCMessage *m = prpc_json_decode(c[i].d, c[i].json, strlen(c[i].json), &e);
		if (m) {
			prpc_message_free(m);
			snprintf(why, sizeof why, "%s: accepted", c[i].json);
			return why;
		}
		if (!strstr(e.msg, c[i].want)) {
			snprintf(why, sizeof why, "%.1000s: error \"%s\" lacks \"%.1000s\"",
				 c[i].json, e.msg, c[i].want);
			return why;
		}
	}
	return NULL;
}

#define AKR (&kms__get_app_key_request__descriptor)
#define APP (&kms__app_id__descriptor)
#define META (&kms__get_meta_response__descriptor)

TEST(test_prpc_json_rejects_malformed_json)
{
	static const struct bad_case c[] = {
	    {AKR, "{", "EOF"},
	    {AKR, "{\"api_version\":}", "expected value"},
	    {AKR, "{\"api_version\":1,}", "trailing comma"},
	    {AKR, "{'api_version':1}", "key must be a string"},
	    {AKR, "{\"api_version\" 1}", "expected `:`"},
	    {AKR, "{\"api_version\":1 \"vm_config\":\"\"}", "expected `,` or `}`"},
	    {AKR, "{} x", "trailing characters"},
	    {AKR, "{}{}", "trailing characters"},
	    {AKR, "{\"x\":[1,]}", "trailing comma"},
	    {AKR, "{\"x\":[1 2]}", "expected `,` or `]`"},
	    {AKR, "{\"x\":tru}", "expected ident"},
	    {AKR, "{\"x\":nul}", "expected ident"},
	    {AKR, "{\"x\":01}", "invalid number"},
	    {AKR, "{\"x\":1.}", "invalid number"},
	    {AKR, "{\"x\":-}", "invalid number"},
	    {AKR, "{\"x\":1e}", "invalid number"},
	    {AKR, "{\"x\":+1}", "expected value"},
	    {AKR, "{\"x\":\"a\\qb\"}", "invalid escape"},
	    {AKR, "{\"x\":\"\\u12\"}", "invalid escape"},
	    {AKR, "{\"x\":\"abc", "EOF while parsing a string"},
	    {AKR, "{\"x\":\"a\tb\"}", "control character"},
	    {AKR, "\xef\xbb\xbf{}", "expected value"},
	};
	const char *why = check_bad(c, sizeof c / sizeof c[0]);
	CHECK_MSG(!why, "%s", why);
	/* the position is reported */
	struct err e;
	CHECK(dec(AKR, "{\n  \"api_version\": x}", &e) == NULL);
	CHECK_CONTAINS(e.msg, "line 2 column 18");
}

TEST(test_prpc_json_rejects_top_level_non_objects)
{
	static const struct bad_case c[] = {
	    {AKR, "[]", "invalid type: sequence, expected struct GetAppKeyRequest"},
	    {AKR, "[1,\"cfg\"]", "invalid type: sequence"},
	    {AKR, "1", "invalid type: integer `1`"},
	    {AKR, "\"x\"", "invalid type: string"},
	    {AKR, "null", "invalid type: null"},
	    {AKR, "true", "invalid type: boolean `true`"},
	};
	const char *why = check_bad(c, sizeof c / sizeof c[0]);
	CHECK_MSG(!why, "%s", why);
}

TEST(test_prpc_json_rejects_wrong_types_and_null_for_required_fields)
{
	static const struct bad_case c[] = {
	    {AKR, "{\"api_version\":\"1\"}",
	     "field `api_version`: invalid type: string, expected u32"},
	    {AKR, "{\"api_version\":null}",
	     "field `api_version`: invalid type: null, expected u32"},
	    {AKR, "{\"api_version\":true}", "expected u32"},
	    {AKR, "{\"api_version\":[1]}", "invalid type: sequence, expected u32"},
	    {AKR, "{\"vm_config\":null}",
	     "field `vm_config`: invalid type: null, expected a string"},
	    {AKR, "{\"vm_config\":5}",
	     "field `vm_config`: invalid type: integer `5`, expected a string"},
	    {AKR, "{\"vm_config\":{}}", "invalid type: map, expected a string"},
	    {APP, "{\"app_id\":null}", "field `app_id`: invalid type: null, expected a string"},
	    {APP, "{\"app_id\":12}", "field `app_id`: invalid type: integer `12`"},
	    {APP, "{\"app_id\":[\"12\"]}", "field `app_id`: invalid type: sequence"},
	    {META, "{\"is_dev\":1}",
	     "field `is_dev`: invalid type: integer `1`, expected a boolean"},
	    {META, "{\"is_dev\":\"true\"}", "expected a boolean"},
	    {META, "{\"is_dev\":null}", "field `is_dev`: invalid type: null, expected a boolean"},
	    {META, "{\"chain_id\":\"1\"}", "field `chain_id`: invalid type: string, expected u64"},
	    {META, "{\"gateway_app_id\":1}", "field `gateway_app_id`: invalid type: integer"},
	    {META, "{\"bootstrap_info\":\"\"}",
	     "field `bootstrap_info`: invalid type: string, expected struct BootstrapResponse"},
	    {META, "{\"bootstrap_info\":[]}", "expected struct BootstrapResponse"},
	    {META, "{\"bootstrap_info\":{\"ca_pubkey\":\"1\"}}",
	     "field `bootstrap_info`: invalid hex in field `ca_pubkey`: odd number of digits"},
	    {&kms__sign_cert_response__descriptor, "{\"certificate_chain\":null}",
	     "field `certificate_chain`: invalid type: null, expected a sequence"},
	    {&kms__sign_cert_response__descriptor, "{\"certificate_chain\":\"a\"}",
	     "expected a sequence"},
	    {&kms__sign_cert_response__descriptor, "{\"certificate_chain\":[\"a\",null]}",
	     "field `certificate_chain`: invalid type: null, expected a string"},
	    {&kms__kms_key_response__descriptor, "{\"keys\":[{\"ca_key\":1}]}",
	     "field `keys`: field `ca_key`: invalid type: integer `1`"},
	    {&kms__kms_key_response__descriptor, "{\"keys\":[null]}",
	     "field `keys`: invalid type: null, expected struct KmsKeys"},
	    {AKR, "{\"api_version\":1,\"api_version\":1}", "duplicate field `api_version`"},
	    {AKR, "{\"vm_config\":\"a\",\"vm\\u005fconfig\":\"b\"}", "duplicate field `vm_config`"},
	    {META, "{\"chain_id\":null,\"chain_id\":null}", "duplicate field `chain_id`"},
	    {AKR, "{\"vm_config\":\"a\\u0000b\"}", "field `vm_config`: strings with NUL"},
	};
	const char *why = check_bad(c, sizeof c / sizeof c[0]);
	CHECK_MSG(!why, "%s", why);
}

TEST(test_prpc_json_integer_ranges_follow_serde)
{
	static const struct bad_case c[] = {
	    {AKR, "{\"api_version\":-1}",
	     "field `api_version`: invalid value: integer `-1`, expected u32"},
	    {AKR, "{\"api_version\":4294967296}",
	     "invalid value: integer `4294967296`, expected u32"},
	    {AKR, "{\"api_version\":1.0}", "invalid type: floating point `1.0`, expected u32"},
	    {AKR, "{\"api_version\":1e2}", "invalid type: floating point `1e2`"},
	    {AKR, "{\"api_version\":-0}", "invalid type: floating point `-0`"},
	    {META, "{\"chain_id\":18446744073709551616}", "invalid type: floating point"},
	    {META, "{\"chain_id\":-9223372036854775808}",
	     "invalid value: integer `-9223372036854775808`, expected u64"},
	    {META, "{\"chain_id\":-9223372036854775809}", "invalid type: floating point"},
	    {META, "{\"chain_id\":-1}", "invalid value: integer `-1`, expected u64"},
	};
	const char *why = check_bad(c, sizeof c / sizeof c[0]);
	CHECK_MSG(!why, "%s", why);

	struct err e;
	Kms__GetAppKeyRequest *r =
	    (Kms__GetAppKeyRequest *)dec(AKR, "{\"api_version\":4294967295}", &e);
	CHECK_MSG(r != NULL, "%s", e.msg);
	CHECK(r->api_version == 4294967295u);
	prpc_message_free(&r->base);
	r = (Kms__GetAppKeyRequest *)dec(AKR, "{\"api_version\":0}", &e);
	CHECK_MSG(r != NULL, "%s", e.msg);
	CHECK_EQ_INT(r->api_version, 0);
	prpc_message_free(&r->base);
	/* numbers in ignored fields are only checked for syntax */
	r = (Kms__GetAppKeyRequest *)dec(AKR, "{\"n\":-0.5e-999,\"m\":99999999999999999999999}",
					 &e);
	CHECK_MSG(r != NULL, "%s", e.msg);
	prpc_message_free(&r->base);
}

TEST(test_prpc_json_rejects_invalid_utf8)
{
	static const struct bad_case c[] = {
	    {AKR, "{\"vm_config\":\"\xff\"}", "invalid unicode code point"},
	    {AKR, "{\"vm_config\":\"\xc0\x80\"}", "invalid unicode code point"},
	    {AKR, "{\"vm_config\":\"\xed\xa0\x80\"}", "invalid unicode code point"},
	    {AKR, "{\"vm_config\":\"\xe2\x82\"}", "invalid unicode code point"},
	    {AKR, "{\"vm_config\":\"\xf4\x90\x80\x80\"}", "invalid unicode code point"},
	    {AKR, "{\"ignored\":\"\xfe\"}", "invalid unicode code point"},
	    {AKR, "{\"\xff\":1}", "invalid unicode code point"},
	    {AKR, "{\"vm_config\":\"\\ud800\"}", "lone leading surrogate"},
	    {AKR, "{\"vm_config\":\"\\ud800\\u0041\"}", "lone leading surrogate"},
	    {AKR, "{\"vm_config\":\"\\udc00\"}", "lone trailing surrogate"},
	};
	const char *why = check_bad(c, sizeof c / sizeof c[0]);
	CHECK_MSG(!why, "%s", why);
}

/* {"x": [[[...]]]} with `arrays` nested arrays: arrays + 1 levels in all. */
static char *nested(size_t arrays)
{
	size_t n = 6 + 2 * arrays + 2;
	char *s = malloc(n);
	if (!s)
		return NULL;
	size_t o = 0;
	memcpy(s, "{\"x\":", 5);
	o = 5;
	for (size_t i = 0; i < arrays; i++)
		s[o++] = '[';
	for (size_t i = 0; i < arrays; i++)
		s[o++] = ']';
	s[o++] = '}';
	s[o] = 0;
	return s;
}

TEST(test_prpc_json_limits_nesting_depth_like_serde_json)
{
	struct err e;
	char *ok = nested(PRPC_JSON_MAX_DEPTH - 2); /* 127 levels */
	char *deep = nested(PRPC_JSON_MAX_DEPTH - 1);
	char *very = nested(100000);
	CHECK(ok && deep && very);
	ProtobufCMessage *m = dec(AKR, ok, &e);
	CHECK_MSG(m != NULL, "%s", e.msg);
	prpc_message_free(m);
	CHECK(dec(AKR, deep, &e) == NULL);
	CHECK_CONTAINS(e.msg, "recursion limit exceeded");
	CHECK(dec(AKR, very, &e) == NULL);
	CHECK_CONTAINS(e.msg, "recursion limit exceeded");
	free(ok);
	free(deep);
	free(very);
}

/* ---- query strings ------------------------------------------------------- */

TEST(test_prpc_query_decodes_app_id_and_ignores_json_flag)
{
	struct err e;
	const char *qs[] = {"app_id=0x1234&json", "json&app_id=1234", "json=1&app_id=0x0x1234&",
			    "&&app_id=%31%32%33%34&json=false", "app%5Fid=1234"};
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		Kms__AppId *a = (Kms__AppId *)qdec(APP, qs[i], &e);
		CHECK_MSG(a != NULL, "%s: %s", qs[i], e.msg);
		CHECK_MSG(t_hex_equal(a->app_id.data, a->app_id.len, "1234"), "%s", qs[i]);
		prpc_message_free(&a->base);
	}
	/* a key without a value is an empty value */
	Kms__AppId *a = (Kms__AppId *)qdec(APP, "app_id&json", &e);
	CHECK_MSG(a != NULL, "%s", e.msg);
	CHECK_EQ_INT(a->app_id.len, 0);
	prpc_message_free(&a->base);
	a = (Kms__AppId *)qdec(APP, "json", &e);
	CHECK_MSG(a != NULL, "%s", e.msg);
	CHECK_EQ_INT(a->app_id.len, 0);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	CHECK(qdec(APP, "app_id=123", &e) == NULL);
	CHECK_CONTAINS(e.msg, "invalid hex in field `app_id`: odd number of digits");
}

TEST(test_prpc_query_percent_decoding_and_plus_as_space)
{
	struct err e;
	Kms__GetAppKeyRequest *r = (Kms__GetAppKeyRequest *)qdec(
	    AKR, "vm_config=a%20b+c%2Bd%3D%26%zz%4=x%C3%A9&api_version=%2B0042", &e);
	CHECK_MSG(r != NULL, "%s", e.msg);
	CHECK_EQ_STR(r->vm_config, "a b c+d=&%zz%4=x\xc3\xa9");
	CHECK_EQ_INT(r->api_version, 42);
	prpc_message_free(&r->base);
	/* raw UTF-8 passes; '=' inside the value is kept; the first byte is
	 * always part of the key (serde_qs), so "=x" is an unknown key */
	r = (Kms__GetAppKeyRequest *)qdec(AKR, "=x&=y&vm_config=\xc3\xa9=1", &e);
	CHECK_MSG(r != NULL, "%s", e.msg);
	CHECK_EQ_STR(r->vm_config, "\xc3\xa9=1");
	prpc_message_free(&r->base);
}

TEST(test_prpc_query_rejects_repeated_keys_like_serde_qs)
{
	struct err e;
	/* serde_qs 0.13 marks a key given twice invalid; even unknown keys fail */
	CHECK(qdec(APP, "app_id=12&app_id=34", &e) == NULL);
	CHECK_CONTAINS(e.msg, "Multiple values for one key: \"app_id\"");
	CHECK(qdec(APP, "json&json", &e) == NULL);
	CHECK_CONTAINS(e.msg, "Multiple values for one key: \"json\"");
	CHECK(qdec(APP, "app_id=12&app%5fid=34", &e) == NULL);
	CHECK(qdec(APP, "json&json[a]=1", &e) == NULL);
	CHECK_CONTAINS(e.msg, "Multiple values");
}

TEST(test_prpc_query_type_rules)
{
	struct err e;
	struct {
		const ProtobufCMessageDescriptor *d;
		const char *q, *want;
	} bad[] = {
	    {AKR, "api_version=", "field `api_version`: cannot parse integer from empty string"},
	    {AKR, "api_version=-1", "field `api_version`: invalid digit found in string"},
	    {AKR, "api_version=4294967296", "number too large to fit in target type"},
	    {AKR, "api_version=1.0", "invalid digit"},
	    {AKR, "api_version=+1", "invalid digit"}, /* '+' is a space */
	    {AKR, "api_version=%2B", "invalid digit"},
	    {AKR, "api_version=0x10", "invalid digit"},
	    {AKR, "vm_config=%ff", "not valid UTF-8"},
	    {AKR, "vm_config=\xff", "not valid UTF-8"},
	    {AKR, "x%ff=1", "not valid UTF-8"},
	    {AKR, "vm_config=%00", "strings with NUL"},
	    {META, "is_dev=1", "field `is_dev`: provided string was not `true` or `false`"},
	    {META, "is_dev=", "provided string was not"},
	    {META, "chain_id=18446744073709551616", "number too large"},
	    {META, "bootstrap_info=x", "invalid type: string, expected struct BootstrapResponse"},
	    {META, "bootstrap_info[ca_pubkey]=01", "not supported"},
	    {META, "ca_cert[]=x", "not supported"},
	    {&kms__sign_cert_response__descriptor, "certificate_chain=a",
	     "field `certificate_chain`: invalid type: string, expected a sequence"},
	    {&kms__sign_cert_response__descriptor, "certificate_chain[]=a&certificate_chain[0]=b",
	     "either"},
	    {&kms__sign_cert_response__descriptor, "certificate_chain[0]=a&certificate_chain[0]=b",
	     "Multiple values"},
	    {AKR, "[api_version]=1", "not supported"},
	    {AKR, "x[[a]=1", "another opening bracket"},
	    {AKR, "x[a]b=1", "unexpected character"},
	    {AKR, "x[1a]=1", "invalid digit"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ProtobufCMessage *m = qdec(bad[i].d, bad[i].q, &e);
		if (m)
			prpc_message_free(m);
		CHECK_MSG(m == NULL, "%s accepted", bad[i].q);
		CHECK_MSG(strstr(e.msg, bad[i].want), "%s: \"%s\" lacks \"%s\"", bad[i].q, e.msg,
			  bad[i].want);
	}

	Kms__GetMetaResponse *m = (Kms__GetMetaResponse *)qdec(
	    META,
	    "is_dev=true&allow_any_upgrade=false&chain_id=0&gateway_app_id=&"
	    "kms_contract_address=0x1&bootstrap_info=&k256_pubkey=AB&x[y][z]=1&w[]=2&v[3]",
	    &e);
	CHECK_MSG(m != NULL, "%s", e.msg);
	CHECK_EQ_INT(m->is_dev, 1);
	CHECK_EQ_INT(m->allow_any_upgrade, 0);
	CHECK_EQ_INT(m->_chain_id_case, KMS__GET_META_RESPONSE___CHAIN_ID_CHAIN_ID);
	CHECK(m->chain_id == 0);
	/* serde_qs: an empty value for an Option is None */
	CHECK_EQ_INT(m->_gateway_app_id_case, KMS__GET_META_RESPONSE___GATEWAY_APP_ID__NOT_SET);
	CHECK_EQ_STR(m->kms_contract_address, "0x1");
	CHECK(m->bootstrap_info == NULL);
	CHECK_HEX(m->k256_pubkey.data, m->k256_pubkey.len, "ab");
	prpc_message_free(&m->base);

	Kms__SignCertResponse *s = (Kms__SignCertResponse *)qdec(
	    &kms__sign_cert_response__descriptor,
	    "certificate_chain[2]=c&certificate_chain[0]=a&certificate_chain[1]=b", &e);
	CHECK_MSG(s != NULL, "%s", e.msg);
	CHECK_EQ_INT(s->n_certificate_chain, 3);
	CHECK_EQ_STR(s->certificate_chain[0], "a");
	CHECK_EQ_STR(s->certificate_chain[1], "b");
	CHECK_EQ_STR(s->certificate_chain[2], "c");
	prpc_message_free(&s->base);
	s = (Kms__SignCertResponse *)qdec(&kms__sign_cert_response__descriptor,
					  "certificate_chain[]=z&certificate_chain[]=y", &e);
	CHECK_MSG(s != NULL, "%s", e.msg);
	CHECK_EQ_INT(s->n_certificate_chain, 2);
	CHECK_EQ_STR(s->certificate_chain[0], "z");
	CHECK_EQ_STR(s->certificate_chain[1], "y");
	protobuf_c_message_free_unpacked(&s->base, NULL);

	Kms__SignCertRequest *sr =
	    (Kms__SignCertRequest *)qdec(&kms__sign_cert_request__descriptor,
					 "api_version=4294967295&csr=0xAbCd&vm_config=", &e);
	CHECK_MSG(sr != NULL, "%s", e.msg);
	CHECK(sr->api_version == 4294967295u);
	CHECK_HEX(sr->csr.data, sr->csr.len, "abcd");
	CHECK_EQ_STR(sr->vm_config, "");
	prpc_message_free(&sr->base);
}

/* ---- protobuf compatibility ---------------------------------------------- */

/* Output of `protoc --decode_raw` for hex bytes, or NULL when protoc is absent. */
static char *decode_raw(const char *hex)
{
	if (system("command -v protoc >/dev/null 2>&1") != 0)
		return NULL;
	char in[512], out[512], cmd[1200];
	snprintf(in, sizeof in, "%s/raw.bin", t_tmpdir());
	snprintf(out, sizeof out, "%s/raw.txt", t_tmpdir());
	size_t n;
	uint8_t *b = t_unhex(hex, &n);
	FILE *f = fopen(in, "wb");
	if (!b || !f || fwrite(b, 1, n, f) != n) {
		free(b);
		if (f)
			fclose(f);
		return NULL;
	}
	free(b);
	fclose(f);
	snprintf(cmd, sizeof cmd, "protoc --decode_raw < '%s' > '%s' 2>&1", in, out);
	if (system(cmd) != 0)
		return strdup("protoc failed");
	f = fopen(out, "rb");
	char *text = calloc(1, 4096);
	if (f && text)
		(void)!fread(text, 1, 4095, f);
	if (f)
		fclose(f);
	return text;
}

TEST(test_prpc_json_optional_zero_is_packed_with_presence)
{
	struct err e;
	Kms__GetMetaResponse *m = (Kms__GetMetaResponse *)dec(
	    META, "{\"chain_id\":0,\"is_dev\":false,\"ca_cert\":\"\"}", &e);
	CHECK_MSG(m != NULL, "%s", e.msg);
	char *hex = pack_hex(&m->base);
	CHECK(hex != NULL);
	/* field 8, wire type 0: tag 8<<3|0 = 0x40, value varint 0 */
	CHECK_EQ_STR(hex, "4000");
	char *raw = decode_raw(hex);
	if (raw) {
		CHECK_EQ_STR(raw, "8: 0\n");
		free(raw);
	}
	free(hex);
	prpc_message_free(&m->base);

	/* an explicitly empty optional string keeps presence too: field 6, wire
	 * type 2 -> tag 0x32, length 0; unset optionals and the null message
	 * produce nothing */
	m = (Kms__GetMetaResponse *)dec(
	    META, "{\"gateway_app_id\":\"\",\"kms_contract_address\":null,\"bootstrap_info\":null}",
	    &e);
	CHECK_MSG(m != NULL, "%s", e.msg);
	hex = pack_hex(&m->base);
	CHECK_EQ_STR(hex, "3200");
	raw = decode_raw(hex);
	if (raw) {
		CHECK_EQ_STR(raw, "6: \"\"\n");
		free(raw);
	}
	free(hex);
	prpc_message_free(&m->base);
}

TEST(test_prpc_json_decoded_message_survives_protobuf_pack_unpack)
{
	struct err e;
	const char *json =
	    "{\"ca_cert\":\"c\",\"allow_any_upgrade\":true,\"k256_pubkey\":\"0x02AA\","
	    "\"bootstrap_info\":{\"ca_pubkey\":\"01\",\"k256_pubkey\":\"\",\"attestation\":\"ff\"},"
	    "\"is_dev\":true,\"gateway_app_id\":\"g\",\"kms_contract_address\":null,"
	    "\"chain_id\":1,\"app_auth_implementation\":\"\"}";
	Kms__GetMetaResponse *m = (Kms__GetMetaResponse *)dec(META, json, &e);
	CHECK_MSG(m != NULL, "%s", e.msg);
	size_t n = protobuf_c_message_get_packed_size(&m->base);
	uint8_t *buf = malloc(n);
	CHECK(buf != NULL);
	protobuf_c_message_pack(&m->base, buf);
	Kms__GetMetaResponse *u = kms__get_meta_response__unpack(NULL, n, buf);
	free(buf);
	CHECK(u != NULL);
	CHECK_EQ_STR(u->ca_cert, "c");
	CHECK_EQ_INT(u->allow_any_upgrade, 1);
	CHECK_HEX(u->k256_pubkey.data, u->k256_pubkey.len, "02aa");
	CHECK(u->bootstrap_info != NULL);
	CHECK_HEX(u->bootstrap_info->ca_pubkey.data, u->bootstrap_info->ca_pubkey.len, "01");
	CHECK_EQ_INT(u->bootstrap_info->k256_pubkey.len, 0);
	CHECK_HEX(u->bootstrap_info->attestation.data, u->bootstrap_info->attestation.len, "ff");
	CHECK_EQ_INT(u->is_dev, 1);
	CHECK_EQ_INT(u->_gateway_app_id_case,
		     KMS__GET_META_RESPONSE___GATEWAY_APP_ID_GATEWAY_APP_ID);
	CHECK_EQ_STR(u->gateway_app_id, "g");
	CHECK_EQ_INT(u->_kms_contract_address_case,
		     KMS__GET_META_RESPONSE___KMS_CONTRACT_ADDRESS__NOT_SET);
	CHECK_EQ_INT(u->_chain_id_case, KMS__GET_META_RESPONSE___CHAIN_ID_CHAIN_ID);
	CHECK(u->chain_id == 1);
	CHECK_EQ_INT(u->_app_auth_implementation_case,
		     KMS__GET_META_RESPONSE___APP_AUTH_IMPLEMENTATION_APP_AUTH_IMPLEMENTATION);
	CHECK_EQ_STR(u->app_auth_implementation, "");
	/* and the unpacked message renders the same JSON, normalised */
	char *out = enc(&u->base, &e);
	CHECK_MSG(out != NULL, "%s", e.msg);
	CHECK_EQ_STR(out, "{\"ca_cert\":\"c\",\"allow_any_upgrade\":true,\"k256_pubkey\":\"02aa\","
			  "\"bootstrap_info\":{\"ca_pubkey\":\"01\",\"k256_pubkey\":\"\","
			  "\"attestation\":\"ff\"},\"is_dev\":true,\"gateway_app_id\":\"g\","
			  "\"kms_contract_address\":null,\"chain_id\":1,"
			  "\"app_auth_implementation\":\"\"}");
	free(out);
	prpc_message_free(&u->base); /* also valid for unpacked messages */
	prpc_message_free(&m->base);
}

/* ---- the proto file matches the mapping's assumptions --------------------- */

/* Every `oneof` in proto/kms_rpc.proto is `oneof _x { T x = N; }`, and field
 * numbers rise in declaration order (so descriptor order is declaration
 * order); the generated descriptors agree. */
TEST(test_prpc_json_proto_file_optionals_and_order_match_descriptors)
{
	FILE *f = fopen("proto/kms_rpc.proto", "r");
	CHECK_MSG(f != NULL, "run from the repository root");
	char line[512], msg[128] = "";
	unsigned last = 0;
	int fields_seen = 0, oneofs_seen = 0;
	while (fgets(line, sizeof line, f)) {
		char *c = strstr(line, "//");
		if (c)
			*c = 0;
		char name[128], type[128], fname[128], oname[128];
		unsigned num;
		if (sscanf(line, " message %127s {", name) == 1) {
			snprintf(msg, sizeof msg, "%s", name);
			last = 0;
			continue;
		}
		const ProtobufCMessageDescriptor *d = NULL;
		for (size_t i = 0; i < N_DESCS; i++)
			if (msg[0] && strcmp(ALL_DESCS[i]->short_name, msg) == 0)
				d = ALL_DESCS[i];
		int is_oneof = 0;
		if (sscanf(line, " oneof %127s { %127s %127s = %u; }", oname, type, fname, &num) ==
		    4) {
			is_oneof = 1;
			CHECK_MSG(oname[0] == '_' && strcmp(oname + 1, fname) == 0,
				  "oneof %s is not _%s", oname, fname);
			oneofs_seen++;
		} else if (sscanf(line, " repeated %127s %127s = %u;", type, fname, &num) != 3 &&
			   sscanf(line, " %127s %127s = %u;", type, fname, &num) != 3) {
			continue;
		}
		CHECK_MSG(d != NULL, "message %s has no descriptor in the test table", msg);
		CHECK_MSG(num > last, "%s.%s: numbers must rise in declaration order", msg, fname);
		last = num;
		const ProtobufCFieldDescriptor *fd =
		    protobuf_c_message_descriptor_get_field_by_name(d, fname);
		CHECK_MSG(fd && fd->id == num, "%s.%s missing from the descriptor", msg, fname);
		CHECK_EQ_INT(!!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF), is_oneof);
		fields_seen++;
	}
	fclose(f);
	CHECK_EQ_INT(oneofs_seen, 4);
	size_t total = 0;
	for (size_t i = 0; i < N_DESCS; i++)
		total += ALL_DESCS[i]->n_fields;
	CHECK_EQ_INT(fields_seen, total);
}
