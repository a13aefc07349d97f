// The served OpenAPI document (openapi.json, embedded at build time) must describe exactly the
// routes the API implements: every route below is documented, and nothing else is.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <utility>

namespace http {
extern const char* const kOpenApiJson;
}

namespace {

namespace json = boost::json;

using Route = std::pair<std::string, std::string>;  // {method, path template}

// Every route of api.cc, api_config.cc, api_calls.cc, api_sip.cc, api_preview.cc and console.cc.
// Add a route here when adding it to the code, and to openapi.json.
const std::set<Route>& ImplementedRoutes() {
  static const std::set<Route> routes = [] {
    std::set<Route> r;
    for (const char* c : {"publishers", "buyers", "campaigns", "numbers"}) {
      const std::string base = std::string("/api/v1/") + c;
      r.insert({"get", base});
      r.insert({"post", base});
      r.insert({"get", base + "/{id}"});
      r.insert({"patch", base + "/{id}"});
      r.insert({"delete", base + "/{id}"});
    }
    const std::initializer_list<Route> more = {
        {"get", "/api/v1/campaigns/{campaign_id}/conversion_groups"},
        {"post", "/api/v1/campaigns/{campaign_id}/conversion_groups"},
        {"get", "/api/v1/campaigns/{campaign_id}/conversion_groups/{id}"},
        {"patch", "/api/v1/campaigns/{campaign_id}/conversion_groups/{id}"},
        {"delete", "/api/v1/campaigns/{campaign_id}/conversion_groups/{id}"},
        {"get", "/api/v1/conversion_groups"},  // no POST: groups are created under a campaign
        {"get", "/api/v1/conversion_groups/{id}"},
        {"patch", "/api/v1/conversion_groups/{id}"},
        {"delete", "/api/v1/conversion_groups/{id}"},
        {"get", "/api/v1/campaigns/{campaign_id}/webhook_groups"},
        {"post", "/api/v1/campaigns/{campaign_id}/webhook_groups"},
        {"get", "/api/v1/campaigns/{campaign_id}/webhook_groups/{id}"},
        {"patch", "/api/v1/campaigns/{campaign_id}/webhook_groups/{id}"},
        {"delete", "/api/v1/campaigns/{campaign_id}/webhook_groups/{id}"},
        {"get", "/api/v1/webhook_groups"},  // no POST: groups are created under a campaign
        {"get", "/api/v1/webhook_groups/{id}"},
        {"patch", "/api/v1/webhook_groups/{id}"},
        {"delete", "/api/v1/webhook_groups/{id}"},
        {"post", "/api/v1/webhook_groups/{id}/rotate_secret"},
        {"get", "/api/v1/publishers/{publisher_id}/postback_keys"},
        {"post", "/api/v1/publishers/{publisher_id}/postback_keys"},
        {"get", "/api/v1/publishers/{publisher_id}/postback_keys/{id}"},
        {"patch", "/api/v1/publishers/{publisher_id}/postback_keys/{id}"},
        {"delete", "/api/v1/publishers/{publisher_id}/postback_keys/{id}"},
        {"get", "/api/v1/postback_keys"},  // no POST: keys are created under a publisher
        {"get", "/api/v1/postback_keys/{id}"},
        {"patch", "/api/v1/postback_keys/{id}"},
        {"delete", "/api/v1/postback_keys/{id}"},
        {"get", "/api/v1/webhook_deliveries"},
        {"get", "/api/v1/webhook_deliveries/{id}"},
        {"post", "/api/v1/webhook_deliveries/{id}/resend"},
        {"get", "/api/v1/account"},
        {"patch", "/api/v1/account"},
        {"get", "/api/v1/api_keys"},
        {"post", "/api/v1/api_keys"},
        {"delete", "/api/v1/api_keys/{id}"},
        {"post", "/api/v1/calls"},
        {"get", "/api/v1/calls"},
        {"get", "/api/v1/calls/{uuid}"},
        {"post", "/api/v1/calls/{uuid}/events"},
        {"get", "/calls/{uuid}/postback"},
        {"post", "/calls/{uuid}/postback"},
        {"head", "/calls/{uuid}/postback"},
        {"get", "/calls/{uuid}/add_tags"},
        {"post", "/calls/{uuid}/add_tags"},
        {"head", "/calls/{uuid}/add_tags"},
        {"get", "/calls/{uuid}"},
        {"head", "/calls/{uuid}"},
        {"get", "/data_writing/{key}"},  // no HEAD: other methods answer 404
        {"post", "/data_writing/{key}"},
        {"get", "/sip/route"},  // no HEAD or POST: other methods answer 404
        {"get", "/sip/event"},
        {"get", "/healthz"},
        {"head", "/healthz"},
        {"get", "/metrics"},
        {"head", "/metrics"},
        {"get", "/openapi.json"},
        {"head", "/openapi.json"},
        {"post", "/api/v1/preview/payout_modifier"},
        {"post", "/api/v1/preview/matches"},
        {"post", "/api/v1/preview/webhook_requests"},
        {"get", "/console"},
        {"head", "/console"},
        {"get", "/console/{path}"},
        {"head", "/console/{path}"},
    };
    r.insert(more.begin(), more.end());
    return r;
  }();
  return routes;
}

const std::set<std::string> kMethods = {"get",     "put",  "post",  "delete",
                                        "options", "head", "patch", "trace"};

json::value Doc() {
  json::error_code ec;
  json::value v = json::parse(http::kOpenApiJson, ec);
  EXPECT_FALSE(ec) << "openapi.json does not parse: " << ec.message();
  return v;
}

// Follows a local "$ref" ("#/components/...") from the document root; nullptr if it dangles.
const json::value* Resolve(const json::value& doc, std::string_view ref) {
  if (ref.substr(0, 2) != "#/") return nullptr;
  const json::value* at = &doc;
  ref.remove_prefix(2);
  while (at != nullptr) {
    auto slash = ref.find('/');
    std::string_view part = ref.substr(0, slash);
    const auto* o = at->if_object();
    at = o ? o->if_contains(part) : nullptr;
    if (slash == std::string_view::npos) break;
    ref.remove_prefix(slash + 1);
  }
  return at;
}

void CollectRefs(const json::value& v, std::vector<std::string>& out) {
  if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) {
      if (kv.key() == "$ref" && kv.value().is_string()) {
        out.emplace_back(kv.value().get_string());
      } else {
        CollectRefs(kv.value(), out);
      }
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& e : *a) CollectRefs(e, out);
  }
}

// The names of the path parameters declared in a "parameters" list (refs resolved).
void PathParams(const json::value& doc, const json::value* params, std::set<std::string>& out) {
  if (params == nullptr || !params->is_array()) return;
  for (const auto& p : params->get_array()) {
    const json::value* param = &p;
    if (const auto* ref = p.as_object().if_contains("$ref")) {
      param = Resolve(doc, ref->as_string());
      ASSERT_NE(param, nullptr) << ref->as_string();
    }
    const auto& o = param->as_object();
    if (o.at("in").as_string() == "path") {
      EXPECT_TRUE(o.contains("required") && o.at("required").as_bool())
          << "path parameter " << o.at("name").as_string() << " must be required";
      out.emplace(o.at("name").as_string());
    }
  }
}

TEST(OpenApi, ParsesAsOpenApi303) {
  json::value doc = Doc();
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc.at("openapi").as_string(), "3.0.3");
  EXPECT_TRUE(doc.at("info").as_object().contains("title"));
  EXPECT_TRUE(doc.at("paths").is_object());
}

TEST(OpenApi, DocumentsEveryImplementedRoute) {
  json::value doc = Doc();
  const auto& paths = doc.at("paths").as_object();
  for (const auto& [method, path] : ImplementedRoutes()) {
    const auto* item = paths.if_contains(path);
    ASSERT_NE(item, nullptr) << "openapi.json lacks the path " << path;
    EXPECT_TRUE(item->as_object().contains(method))
        << "openapi.json lacks " << method << " " << path;
  }
}

TEST(OpenApi, DocumentsNoOtherRoute) {
  json::value doc = Doc();
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      if (!kMethods.contains(std::string(method))) continue;  // "parameters", "summary", ...
      EXPECT_TRUE(ImplementedRoutes().contains({std::string(method), std::string(path)}))
          << "openapi.json documents " << method << " " << path
          << ", which the API does not implement (or the test's table lacks)";
    }
  }
}

TEST(OpenApi, OperationsAreWellFormed) {
  json::value doc = Doc();
  std::set<std::string> operation_ids;
  const std::regex param_re(R"(\{([^}]+)\})");
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    const std::string p(path);
    std::set<std::string> templated;
    for (std::sregex_iterator it(p.begin(), p.end(), param_re), end; it != end; ++it) {
      templated.insert((*it)[1].str());
    }
    std::set<std::string> path_level;
    PathParams(doc, item.as_object().if_contains("parameters"), path_level);
    for (const auto& [method, op] : item.as_object()) {
      if (!kMethods.contains(std::string(method))) continue;
      const std::string where = std::string(method) + " " + p;
      const auto& o = op.as_object();
      ASSERT_TRUE(o.contains("operationId")) << where;
      EXPECT_TRUE(operation_ids.emplace(o.at("operationId").as_string()).second)
          << "duplicate operationId at " << where;
      ASSERT_TRUE(o.contains("responses")) << where;
      EXPECT_FALSE(o.at("responses").as_object().empty()) << where;
      std::set<std::string> declared = path_level;
      PathParams(doc, o.if_contains("parameters"), declared);
      EXPECT_EQ(declared, templated) << "path parameters of " << where;
      // Operator routes use the document's bearer key; the others say what they need.
      if (p.rfind("/api/v1/", 0) == 0) {
        EXPECT_FALSE(o.contains("security")) << where;
        EXPECT_TRUE(o.at("responses").as_object().contains("401")) << where;
      } else {
        EXPECT_TRUE(o.contains("security")) << where;
      }
    }
  }
}

// The statuses every operation can answer whatever its own logic, listed where they apply:
// 429 on every route a key authenticates (its 401; not /metrics, whose token is the server's,
// with no rate limit), since each key has a rate limit; 413 on
// every POST and PATCH, since the server refuses a body over its limit before any route
// (resend and the previews included); 404 on every route with a path parameter (no such
// object, or no such campaign or publisher above it).
TEST(OpenApi, ListsTheStatusesEveryOperationCanAnswer) {
  json::value doc = Doc();
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      if (!kMethods.contains(std::string(method))) continue;
      const std::string where = std::string(method) + " " + std::string(path);
      const auto& responses = op.at("responses").as_object();
      if (responses.contains("401") && path != "/metrics") {
        EXPECT_TRUE(responses.contains("429")) << where;
      }
      if (method == "post" || method == "patch" || method == "put") {
        EXPECT_TRUE(responses.contains("413")) << where;
      }
      if (path.find('{') != json::string_view::npos) {
        EXPECT_TRUE(responses.contains("404")) << where;
      }
    }
  }
  // A carried tag keeps its original source: "carried" is never a source.
  std::set<std::string> sources;
  for (const auto& s : doc.at("components")
                           .at("schemas")
                           .at("TagRecord")
                           .at("properties")
                           .at("source")
                           .at("enum")
                           .as_array()) {
    sources.emplace(s.as_string());
  }
  EXPECT_EQ(sources, (std::set<std::string>{"system", "number", "edge", "postback", "publisher"}));
}

TEST(OpenApi, EveryRefResolves) {
  json::value doc = Doc();
  std::vector<std::string> refs;
  CollectRefs(doc, refs);
  EXPECT_FALSE(refs.empty());
  for (const auto& ref : refs) EXPECT_NE(Resolve(doc, ref), nullptr) << "dangling $ref " << ref;
}

// Shapes that came with webhooks and idempotent call starts, checked where a rename in the code
// would otherwise leave the document behind.
TEST(OpenApi, DescribesWebhooksAndIdempotentStarts) {
  json::value doc = Doc();
  const auto& schemas = doc.at("components").at("schemas").as_object();
  const auto& call = schemas.at("Call").as_object();
  EXPECT_TRUE(call.at("properties").as_object().contains("edge_call_id"));
  EXPECT_TRUE(schemas.at("StartCall").at("properties").as_object().contains("edge_call_id"));
  const auto& details = schemas.at("CallDetails").at("allOf").as_array();
  EXPECT_TRUE(details.at(1).at("properties").as_object().contains("postbacks_total"));
  EXPECT_EQ(details.at(1).at("properties").at("webhooks").at("items").at("$ref").as_string(),
            "#/components/schemas/Delivery");
  for (const char* field : {"id", "call_uuid", "group_id", "trigger", "webhook_id", "url", "state",
                            "attempt_count", "next_attempt_at", "attempts"}) {
    EXPECT_TRUE(schemas.at("Delivery").at("properties").as_object().contains(field)) << field;
  }
  for (const char* field : {"at", "http_status", "latency_ms", "error", "response_excerpt"}) {
    EXPECT_TRUE(schemas.at("Attempt").at("properties").as_object().contains(field)) << field;
  }
  const auto& start = doc.at("paths").at("/api/v1/calls").at("post").as_object();
  EXPECT_TRUE(start.at("responses").as_object().contains("200")) << "a repeated start answers 200";
  EXPECT_TRUE(start.at("responses").as_object().contains("201"));
  bool idempotency_key = false;
  for (const auto& p : start.at("parameters").as_array()) {
    idempotency_key = idempotency_key || (p.at("in").as_string() == "header" &&
                                          p.at("name").as_string() == "Idempotency-Key");
  }
  EXPECT_TRUE(idempotency_key) << "POST /api/v1/calls documents the Idempotency-Key header";
  const auto& resend =
      doc.at("paths").at("/api/v1/webhook_deliveries/{id}/resend").at("post").as_object();
  EXPECT_TRUE(resend.at("responses").as_object().contains("202"));
}

// Publisher data writing: the key in the path is the credential, the answers are JSON or text,
// and the keys' secret and hash never appear in a key's description.
TEST(OpenApi, DescribesPublisherDataWriting) {
  json::value doc = Doc();
  const auto& schemas = doc.at("components").at("schemas").as_object();
  for (const char* name : {"PublisherKey", "PublisherKeyWrite", "NewPublisherKey",
                           "PublisherKeyList", "DataWritingParams", "DataWritingAnswer"}) {
    ASSERT_TRUE(schemas.contains(name)) << "components.schemas lacks " << name;
  }
  const auto& item = doc.at("paths").at("/data_writing/{key}").as_object();
  bool key_param = false;
  for (const auto& p : item.at("parameters").as_array()) {
    key_param =
        key_param || (p.at("in").as_string() == "path" && p.at("name").as_string() == "key");
  }
  EXPECT_TRUE(key_param) << "/data_writing/{key} declares the key as a path parameter";
  for (const char* method : {"get", "post"}) {
    const auto& op = item.at(method).as_object();
    // OpenAPI 3.0 has no scheme for a credential in the path: no other scheme applies.
    EXPECT_TRUE(op.at("security").as_array().empty()) << method;
    const auto& responses = op.at("responses").as_object();
    for (const char* status : {"200", "400", "401", "403", "404", "410", "422"}) {
      EXPECT_TRUE(responses.contains(status)) << method << " " << status;
    }
    EXPECT_TRUE(responses.at("200").at("content").as_object().contains("text/plain")) << method;
    EXPECT_EQ(responses.at("200")
                  .at("content")
                  .at("application/json")
                  .at("schema")
                  .at("$ref")
                  .as_string(),
              "#/components/schemas/DataWritingAnswer");
  }
  const auto& answer = schemas.at("DataWritingAnswer").at("properties").as_object();
  for (const char* field : {"tag_values", "caller_number", "call_uuid", "status"}) {
    EXPECT_TRUE(answer.contains(field)) << field;
  }
  std::set<std::string> statuses;
  for (const auto& s : answer.at("status").at("enum").as_array()) statuses.emplace(s.as_string());
  EXPECT_EQ(statuses,
            (std::set<std::string>{"call not found, tags stored", "call found, tags applied"}));
  const auto& key = schemas.at("PublisherKey").at("properties").as_object();
  for (const char* field : {"id", "publisher_id", "name", "action", "storage_seconds", "paused",
                            "prefix", "created_at", "updated_at"}) {
    EXPECT_TRUE(key.contains(field)) << field;
  }
  EXPECT_FALSE(key.contains("hash"));
  EXPECT_FALSE(key.contains("key")) << "the secret is only in NewPublisherKey";
  const auto& write = schemas.at("PublisherKeyWrite").at("properties").as_object();
  EXPECT_EQ(write.at("storage_seconds").at("minimum").as_int64(), 60);
  EXPECT_EQ(write.at("storage_seconds").at("maximum").as_int64(), 90 * 86400);
  EXPECT_EQ(write.at("storage_seconds").at("default").as_int64(), 86400);
  EXPECT_FALSE(write.contains("hash"));
  const auto& created = doc.at("paths")
                            .at("/api/v1/publishers/{publisher_id}/postback_keys")
                            .at("post")
                            .at("responses")
                            .at("201")
                            .at("content")
                            .at("application/json")
                            .at("schema");
  EXPECT_EQ(created.at("$ref").as_string(), "#/components/schemas/NewPublisherKey");
  const auto& record = schemas.at("TagRecord").at("properties").as_object();
  EXPECT_TRUE(record.contains("publisher_id")) << "tag_history entries name the writing publisher";
  bool publisher_source = false;
  for (const auto& s : record.at("source").at("enum").as_array()) {
    publisher_source = publisher_source || s.as_string() == "publisher";
  }
  EXPECT_TRUE(publisher_source);
}

// SIP edge hooks: GET with query parameters, the account API key as a bearer header or ?token=,
// and the answers a SIP server reads.
TEST(OpenApi, DescribesSipEdgeHooks) {
  json::value doc = Doc();
  const auto& token = doc.at("components").at("securitySchemes").at("tokenQuery").as_object();
  EXPECT_EQ(token.at("type").as_string(), "apiKey");
  EXPECT_EQ(token.at("in").as_string(), "query");
  EXPECT_EQ(token.at("name").as_string(), "token");
  const std::map<std::string, std::pair<std::string, std::set<std::string>>> hooks = {
      {"/sip/route", {"SipRouteAnswer", {"to", "from", "callid"}}},
      {"/sip/event", {"SipEventAnswer", {"type", "uuid", "callid", "code", "at"}}},
  };
  for (const auto& [path, expected] : hooks) {
    const auto& op = doc.at("paths").at(path).at("get").as_object();
    std::set<std::string> schemes;
    for (const auto& alternative : op.at("security").as_array()) {
      for (const auto& kv : alternative.as_object()) schemes.emplace(kv.key());
    }
    EXPECT_EQ(schemes, (std::set<std::string>{"apiKey", "tokenQuery"})) << path;
    std::set<std::string> params;
    for (const auto& p : op.at("parameters").as_array()) {
      EXPECT_EQ(p.at("in").as_string(), "query") << path;
      params.emplace(p.at("name").as_string());
    }
    EXPECT_EQ(params, expected.second) << path << " (token is the security scheme)";
    const auto& responses = op.at("responses").as_object();
    for (const char* status : {"200", "400", "401", "404"}) {
      EXPECT_TRUE(responses.contains(status)) << path << " " << status;
    }
    EXPECT_EQ(responses.at("200")
                  .at("content")
                  .at("application/json")
                  .at("schema")
                  .at("$ref")
                  .as_string(),
              "#/components/schemas/" + expected.first);
  }
  const auto& schemas = doc.at("components").at("schemas").as_object();
  const auto& route = schemas.at("SipRouteAnswer").at("properties").as_object();
  for (const char* field : {"uuid", "key", "target", "timeout_s", "headers"}) {
    EXPECT_TRUE(route.contains(field)) << field;
  }
  const auto& headers = route.at("headers").at("properties").as_object();
  EXPECT_TRUE(headers.contains("X-PH-RetreaverUUID"));
  EXPECT_TRUE(headers.contains("X-PH-RetreaverKey"));
  const auto& event = schemas.at("SipEventAnswer").at("properties").as_object();
  for (const char* field : {"uuid", "status", "answered"}) {
    EXPECT_TRUE(event.contains(field)) << field;
  }
  std::set<std::string> types;
  for (const auto& p : doc.at("paths").at("/sip/event").at("get").at("parameters").as_array()) {
    if (p.at("name").as_string() != "type") continue;
    EXPECT_TRUE(p.at("required").as_bool());
    for (const auto& t : p.at("schema").at("enum").as_array()) types.emplace(t.as_string());
  }
  EXPECT_EQ(types, (std::set<std::string>{"answered", "ended", "failed"}));
}

TEST(OpenApi, DescribesTheSharedShapes) {
  json::value doc = Doc();
  const auto& schemas = doc.at("components").at("schemas").as_object();
  for (const char* name : {"Publisher",       "Buyer",
                           "Campaign",        "Number",
                           "ConversionGroup", "PostbackInstructions",
                           "Account",         "ApiKey",
                           "NewApiKey",       "Call",
                           "CallDetails",     "BuyerCall",
                           "Conversion",      "PostbackAnswer",
                           "Error",           "PublisherList",
                           "BuyerList",       "CampaignList",
                           "NumberList",      "ConversionGroupList",
                           "ApiKeyList",      "CallList",
                           "WebhookGroup",    "WebhookGroupList",
                           "WebhookRequest",  "Delivery",
                           "Attempt",         "DeliveryList"}) {
    EXPECT_TRUE(schemas.contains(name)) << "components.schemas lacks " << name;
  }
  // Bodies the server validates field by field refuse unknown fields.
  for (const char* name :
       {"PublisherWrite", "BuyerWrite", "CampaignWrite", "NumberWrite", "ConversionGroupWrite",
        "AccountWrite", "ApiKeyWrite", "StartCall", "CallEvent", "CampaignBuyer", "RepeatCallers",
        "WebhookGroupWrite", "WebhookRequestWrite", "RotateSecret", "PublisherKeyWrite"}) {
    ASSERT_TRUE(schemas.contains(name)) << name;
    const auto* extra = schemas.at(name).as_object().if_contains("additionalProperties");
    EXPECT_TRUE(extra != nullptr && extra->is_bool() && !extra->get_bool())
        << name << " must say additionalProperties: false";
  }
  // Configuration bodies refuse null except on the fields that may be null (codec.cc reads
  // these with OptionalInt or Raw, every other with a reader that refuses null).
  std::set<std::string> nullable;
  for (const char* name :
       {"PublisherWrite", "BuyerWrite", "CampaignWrite", "NumberWrite", "ConversionGroupWrite",
        "AccountWrite", "CampaignBuyer", "RepeatCallers", "WebhookGroupWrite",
        "WebhookRequestWrite", "RotateSecret", "PublisherKeyWrite"}) {
    for (const auto& [field, schema] : schemas.at(name).at("properties").as_object()) {
      const auto* n = schema.as_object().if_contains("nullable");
      if (n != nullptr && n->as_bool())
        nullable.insert(std::string(name) + "." + std::string(field));
    }
  }
  EXPECT_EQ(nullable,
            (std::set<std::string>{"BuyerWrite.concurrency_cap", "NumberWrite.publisher_id",
                                   "WebhookRequestWrite.headers", "WebhookRequestWrite.body"}));
  const auto& security = doc.at("components").at("securitySchemes").as_object();
  EXPECT_EQ(security.at("apiKey").at("scheme").as_string(), "bearer");
  EXPECT_EQ(security.at("callKeyQuery").at("name").as_string(), "key");
  EXPECT_EQ(security.at("callKeyHeader").at("name").as_string(), "X-Call-Key");
}

}  // namespace
