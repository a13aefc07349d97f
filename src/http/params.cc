#include "http/params.h"

#include <boost/json.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>
#include <charconv>
#include <cmath>

#include "core/ids.h"

namespace http {

namespace json = boost::json;

Target SplitTarget(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

core::Result<std::string> DecodeSegment(std::string_view segment) {
  auto pct = boost::urls::make_pct_string_view(segment);
  if (!pct) return core::InvalidArgument("the path has bad percent-encoding");
  std::string out = pct->decode();
  if (!core::IsValidUtf8(out)) return core::InvalidArgument("the path is not valid UTF-8");
  return out;
}

core::Result<engine::Params> ParseForm(std::string_view text) {
  engine::Params out;
  if (text.empty()) return out;
  // Boost.URL 1.81's parse_query measures its input again with strlen (boostorg/url#757): on a
  // view that is not NUL-terminated it reads past the end and takes the bytes after the view
  // for part of the last value. A NUL-terminated copy keeps it to `text` (a NUL inside is
  // refused by the grammar before that).
  const std::string terminated(text);
  auto parsed = boost::urls::parse_query(terminated);
  if (!parsed) return core::InvalidArgument("the query string or form body is malformed");
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  for (auto p : *parsed) {
    if (p.key.empty() && !p.has_value) continue;  // "a=1&&b=2"
    std::string key = p.key.decode(opts);
    std::string value = p.has_value ? p.value.decode(opts) : std::string();
    if (!core::IsValidUtf8(key) || !core::IsValidUtf8(value)) {
      return core::InvalidArgument("parameters must be valid UTF-8 once percent-decoded");
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

namespace {

core::Result<std::string> Scalar(const json::value& v, std::string_view key) {
  switch (v.kind()) {
    case json::kind::string:
      return std::string(v.get_string());
    case json::kind::int64:
      return std::to_string(v.get_int64());
    case json::kind::uint64:
      return std::to_string(v.get_uint64());
    case json::kind::double_: {
      // A number past a double's range is read as infinity: refused, never the tag "inf".
      if (!std::isfinite(v.get_double())) {
        return core::InvalidArgument(std::string(key) + ": the number is out of range",
                                     std::string(key));
      }
      // 12.5 → "12.5": the shortest text that reads back as the same number (printf's "%.15g"
      // dropped digits of 12.345678901234567).
      char buf[32];
      const auto end = std::to_chars(buf, buf + sizeof buf, v.get_double()).ptr;
      return std::string(buf, end);
    }
    case json::kind::bool_:
      return std::string(v.get_bool() ? "true" : "false");
    default:
      return core::InvalidArgument(std::string(key) +
                                       ": postback bodies are flat: values are "
                                       "strings, numbers, booleans or lists of them",
                                   std::string(key));
  }
}

core::Result<json::value> Parse(std::string_view body) {
  if (!core::IsValidUtf8(body)) return core::InvalidArgument("the body is not valid UTF-8");
  json::error_code ec;
  json::parse_options opts;
  opts.max_depth = 16;
  json::value v = json::parse(body, ec, {}, opts);
  if (ec) return core::InvalidArgument("the body is not valid JSON: " + ec.message());
  if (!v.is_object()) return core::InvalidArgument("the body must be a JSON object");
  return v;
}

}  // namespace

core::Result<engine::Params> ParseFlatJson(std::string_view body) {
  auto v = Parse(body);
  if (!v) return std::move(v).error();
  engine::Params out;
  for (const auto& kv : v->get_object()) {
    if (kv.value().is_null()) continue;
    if (kv.value().is_array()) {
      for (const auto& e : kv.value().get_array()) {
        if (e.is_null()) continue;  // skipped, as a null value is
        auto s = Scalar(e, kv.key());
        if (!s) return std::move(s).error();
        out.emplace_back(kv.key(), std::move(*s));
      }
      continue;
    }
    auto s = Scalar(kv.value(), kv.key());
    if (!s) return std::move(s).error();
    out.emplace_back(kv.key(), std::move(*s));
  }
  return out;
}

core::Result<json::object> ParseJsonObject(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  auto v = Parse(body);
  if (!v) return std::move(v).error();
  return std::move(v->as_object());
}

core::Result<engine::Params> RequestParams(const Request& request, std::string_view query) {
  auto params = ParseForm(query);
  if (params && request.method == "POST" && !request.body.empty()) {
    // A form body may end in a line break (`echo … | curl --data-binary @-` sends one).
    std::string_view form = request.body;
    while (!form.empty() && (form.back() == '\n' || form.back() == '\r')) form.remove_suffix(1);
    auto body =
        MediaType(request) == "application/json" ? ParseFlatJson(request.body) : ParseForm(form);
    if (!body) return std::move(body).error();
    params->insert(params->end(), body->begin(), body->end());
  }
  return params;
}

const std::string* FindParam(const engine::Params& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::string MediaType(const Request& request) {
  const std::string* ct = request.FindHeader("Content-Type");
  if (ct == nullptr) return {};
  std::string t = ct->substr(0, ct->find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (auto& c : t) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return t;
}

}  // namespace http
