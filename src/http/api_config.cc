// Operator configuration routes: accounts, API keys, publishers, buyers, campaigns, numbers
// and conversion groups.
#include "config/codec.h"
#include "config/field_reader.h"
#include "http/api_internal.h"

namespace http {

namespace json = boost::json;
using service::Kind;

namespace {

std::optional<Kind> KindOf(std::string_view collection) {
  for (Kind k : {Kind::kPublisher, Kind::kBuyer, Kind::kCampaign, Kind::kNumber,
                 Kind::kConversionGroup, Kind::kWebhookGroup, Kind::kPublisherKey}) {
    if (collection == service::CollectionName(k)) return k;
  }
  return std::nullopt;
}

core::Error MethodNotAllowed(const std::string& method, const std::string& path) {
  return core::MakeError(core::ErrorCode::kNotFound, "no route for " + method + " " + path);
}

}  // namespace

std::string Api::PublicUrl() const {
  std::lock_guard lock(options_mu_);
  return options_.public_url;
}

void Api::Decorate(json::object& o, bool is_conversion_group) const {
  o.erase("hash");  // a publisher key's hash stays in the store
  if (!is_conversion_group) return;
  const std::string type(o.at("type").as_string());
  if (type == "duration") return;
  std::string url = PublicUrl() + "/calls/[call_uuid]/postback?key=[call_key]&";
  if (type == "postback_value") {
    url += std::string(o.at("value_param").as_string()) + "=REVENUE";
  } else {
    url += std::string(o.at("trigger").as_string());
  }
  o["postback_instructions"] = json::object{{"method", "GET or POST"}, {"url", url}};
}

void Api::ConfigRoutes(const CtxPtr& ctx) {
  const auto& s = ctx->segments;
  const std::string& m = ctx->request.method;
  // /api/v1/{collection}[/{id}], /api/v1/campaigns/{id}/{conversion,webhook}_groups[/{gid}],
  // /api/v1/webhook_groups/{id}/rotate_secret
  std::optional<Kind> kind = s.size() >= 3 ? KindOf(s[2]) : std::nullopt;
  config::Id parent = 0;
  std::optional<config::Id> id;
  if (!kind) return ctx->Fail(MethodNotAllowed(m, ctx->path));
  std::string route = "/api/v1/" + s[2];
  if (*kind == Kind::kWebhookGroup && s.size() == 5 && s[4] == "rotate_secret") {
    ctx->route = "/api/v1/webhook_groups/{id}/rotate_secret";
    auto gid = ParseId(s[3]);
    if (!gid) return ctx->Fail(core::NotFound("no webhook group " + s[3]));
    if (m != "POST") return ctx->Fail(MethodNotAllowed(m, ctx->path));
    auto body = ParseJsonObject(ctx->request.body);
    if (!body) return ctx->Fail(body.error());
    config::FieldReader r(*body, {}, config::FieldReader::Nulls::kRefused);
    int64_t overlap = 86400;
    r.Int("overlap_seconds", overlap, false, 0, 30 * 86400);
    if (auto f = r.Finish(); !f) return ctx->Fail(f.error());
    auto g = config_.RotateWebhookSecret(ctx->account_id, *gid, overlap);
    return g ? ctx->Json(200, *g) : ctx->Fail(g.error());
  }
  const bool nested_group = *kind == Kind::kCampaign && s.size() >= 5 &&
                            (s[4] == "conversion_groups" || s[4] == "webhook_groups");
  const bool nested_key = *kind == Kind::kPublisher && s.size() >= 5 && s[4] == "postback_keys";
  if (nested_group || nested_key) {
    auto owner = ParseId(s[3]);
    if (!owner) return ctx->Fail(core::NotFound("no such object: " + s[3]));
    parent = *owner;
    kind = nested_key                    ? Kind::kPublisherKey
           : s[4] == "conversion_groups" ? Kind::kConversionGroup
                                         : Kind::kWebhookGroup;
    route += "/{id}/" + s[4];
    if (s.size() == 6) {
      id = ParseId(s[5]);
      if (!id) return ctx->Fail(core::NotFound("no such group: " + s[5]));
      route += "/{id}";
    } else if (s.size() > 6) {
      return ctx->Fail(MethodNotAllowed(m, ctx->path));
    }
  } else if (s.size() == 4) {
    id = ParseId(s[3]);
    if (!id) return ctx->Fail(core::NotFound("no such object: " + s[3]));
    route += "/{id}";
  } else if (s.size() != 3) {
    return ctx->Fail(MethodNotAllowed(m, ctx->path));
  }
  ctx->route = route;
  const bool group = *kind == Kind::kConversionGroup;
  const bool publisher_key = *kind == Kind::kPublisherKey;
  const bool any_group = group || *kind == Kind::kWebhookGroup || publisher_key;
  const config::Id account = ctx->account_id;

  auto reply = [&](int status, core::Result<json::object> r) {
    if (!r) return ctx->Fail(r.error());
    Decorate(*r, group);
    ctx->Json(status, *r);
  };
  if (parent != 0) {
    // The campaign or publisher in the path must be the account's: another account's answers
    // 404, as a missing one does, for lists and creation too.
    auto owner = config_.Get(publisher_key ? Kind::kPublisher : Kind::kCampaign, account, parent);
    if (!owner) return ctx->Fail(owner.error());
  }
  if (!id && m == "GET") {
    engine::Params query;
    if (!ctx->Query(query)) return;
    auto page = ReadPage(query);
    if (!page) return ctx->Fail(page.error());
    auto list = config_.List(*kind, account, parent, page->after_id, page->limit);
    if (!list) return ctx->Fail(list.error());
    for (auto& o : list->data) Decorate(o.as_object(), group);
    return ctx->Json(
        200, json::object{{"data", std::move(list->data)},
                          {"next_cursor",
                           list->next_cursor ? json::value(*list->next_cursor) : json::value()}});
  }
  if (!id && m == "POST" && publisher_key && parent != 0) {
    auto body = ParseJsonObject(ctx->request.body);
    if (!body) return ctx->Fail(body.error());
    auto k = config_.CreatePublisherKey(account, parent, *body);
    if (!k) return ctx->Fail(k.error());
    json::object o = config::Encode(k->key);
    Decorate(o, false);
    o["key"] = k->secret;                                                // shown once
    o["data_writing_url"] = PublicUrl() + "/data_writing/" + k->secret;  // what the publisher calls
    return ctx->Json(201, o);
  }
  if (!id && m == "POST" && (!any_group || parent != 0)) {
    auto body = ParseJsonObject(ctx->request.body);
    if (!body) return ctx->Fail(body.error());
    return reply(201, config_.Create(*kind, account, parent, *body));
  }
  if (id && any_group && parent != 0) {
    // A nested object must belong to the campaign or publisher in its path.
    auto g = config_.Get(*kind, account, *id);
    if (g && g->at(publisher_key ? "publisher_id" : "campaign_id").as_int64() != parent) {
      return ctx->Fail(core::NotFound(
          std::string(publisher_key ? "no postback key with id " : "no group with id ") +
          std::to_string(*id) + (publisher_key ? " for publisher " : " in campaign ") +
          std::to_string(parent)));
    }
  }
  if (id && m == "GET") return reply(200, config_.Get(*kind, account, *id));
  if (id && m == "PATCH") {
    auto body = ParseJsonObject(ctx->request.body);
    if (!body) return ctx->Fail(body.error());
    return reply(200, config_.Update(*kind, account, *id, *body));
  }
  if (id && m == "DELETE") {
    auto r = config_.Delete(*kind, account, *id);
    if (!r) return ctx->Fail(r.error());
    Response res;
    res.status = 204;
    res.content_type.clear();
    return ctx->Reply(std::move(res));
  }
  ctx->Fail(MethodNotAllowed(m, ctx->path));
}

void Api::AccountRoutes(const CtxPtr& ctx) {
  const auto& s = ctx->segments;
  const std::string& m = ctx->request.method;
  const config::Id account = ctx->account_id;
  if (s[2] == "account" && s.size() == 3) {
    ctx->route = "/api/v1/account";
    if (m == "GET") {
      auto a = config_.GetAccount(account);
      return a ? ctx->Json(200, *a) : ctx->Fail(a.error());
    }
    if (m == "PATCH") {
      auto body = ParseJsonObject(ctx->request.body);
      if (!body) return ctx->Fail(body.error());
      auto a = config_.UpdateAccount(account, *body);
      return a ? ctx->Json(200, *a) : ctx->Fail(a.error());
    }
  } else if (s[2] == "api_keys" && s.size() == 3) {
    ctx->route = "/api/v1/api_keys";
    if (m == "GET") {
      engine::Params query;  // all in one page: no limit, cursor or filter
      if (!ctx->Query(query)) return;
      if (auto known = CheckListQuery(query, {}, /*paged=*/false); !known) {
        return ctx->Fail(known.error());
      }
      auto keys = config_.ListApiKeys(account);
      if (!keys) return ctx->Fail(keys.error());
      return ctx->Json(200, json::object{{"data", std::move(*keys)}, {"next_cursor", nullptr}});
    }
    if (m == "POST") {
      auto body = ParseJsonObject(ctx->request.body);
      if (!body) return ctx->Fail(body.error());
      auto k = config_.CreateApiKey(account, *body);
      if (!k) return ctx->Fail(k.error());
      json::object o = config::Encode(k->key);
      o["key"] = k->secret;
      return ctx->Json(201, o);
    }
  } else if (s[2] == "api_keys" && s.size() == 4) {
    ctx->route = "/api/v1/api_keys/{id}";
    auto id = ParseId(s[3]);
    if (!id) return ctx->Fail(core::NotFound("no API key " + s[3]));
    if (m == "DELETE") {
      auto r = config_.DeleteApiKey(account, *id);
      if (!r) return ctx->Fail(r.error());
      Response res;
      res.status = 204;
      res.content_type.clear();
      return ctx->Reply(std::move(res));
    }
  }
  ctx->Fail(MethodNotAllowed(m, ctx->path));
}

}  // namespace http
