#include "http/console.h"

#include <string>

#include "http/api_internal.h"

namespace http {

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void AddSecurityHeaders(Response& r) {
  r.headers.push_back({"Content-Security-Policy", std::string(kConsoleCsp)});
  r.headers.push_back({"X-Content-Type-Options", "nosniff"});
  r.headers.push_back({"X-Frame-Options", "DENY"});
  r.headers.push_back({"Referrer-Policy", "no-referrer"});
}

const ConsoleFile* Find(std::span<const ConsoleFile> files, std::string_view path) {
  for (const auto& f : files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

}  // namespace

std::string_view ContentTypeFor(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (EndsWith(name, ext)) return type;
  }
  return "application/octet-stream";
}

Response ConsoleResponse(std::span<const ConsoleFile> files, std::string_view path) {
  Response r;
  AddSecurityHeaders(r);
  if (path == "/console") {
    r.status = 308;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.push_back({"Location", "/console/"});
    r.body = "moved to /console/\n";
    return r;
  }
  std::string_view rel = path.substr(std::string_view("/console/").size());
  const ConsoleFile* file = rel.empty() ? nullptr : Find(files, rel);
  if (file == nullptr && rel.rfind("assets/", 0) == 0) {
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.push_back({"Cache-Control", "no-cache"});
    r.body = "not found\n";
    return r;
  }
  if (file == nullptr) file = Find(files, "index.html");  // a route of the app
  if (file == nullptr) {
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "the console is not part of this build\n";
    return r;
  }
  r.content_type = std::string(ContentTypeFor(file->path));
  r.headers.push_back({"Cache-Control", file->path.rfind("assets/", 0) == 0
                                            ? "public, max-age=31536000, immutable"
                                            : "no-cache"});
  r.body = std::string(file->data);
  return r;
}

void Api::Console(const CtxPtr& ctx) {
  ctx->route = "/console";
  const std::string& m = ctx->request.method;
  if (m != "GET" && m != "HEAD") {
    return ctx->Fail(core::NotFound("no route for " + m + " " + ctx->path));
  }
  std::string_view path = SplitTarget(ctx->request.target).path;
  if (path != "/console" && path.rfind("/console/", 0) != 0) {
    return ctx->Fail(core::NotFound("no route for " + m + " " + ctx->path));
  }
  ctx->Reply(ConsoleResponse(ConsoleFiles(), path));
}

}  // namespace http
