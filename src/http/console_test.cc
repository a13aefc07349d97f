#include "http/console.h"

#include <gtest/gtest.h>

#include <string>

namespace http {
namespace {

const ConsoleFile kFiles[] = {
    {"index.html", "<!doctype html><script src=\"/console/assets/index-abc.js\"></script>"},
    {"assets/index-abc.js", "console.log(1)"},
    {"assets/index-def.css", "body{}"},
    {"favicon.svg", "<svg/>"},
};

std::string Header(const Response& r, std::string_view name) {
  for (const auto& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return "";
}

TEST(Console, RedirectsTheBarePathToTheSlash) {
  Response r = ConsoleResponse(kFiles, "/console");
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(Header(r, "Location"), "/console/");
}

TEST(Console, ServesIndexForTheRootAndEveryPageOfTheApp) {
  for (const char* path : {"/console/", "/console/calls", "/console/campaigns/12",
                           "/console/calls/9cbf2bdd-58b8-4867-b1f0-561b5c3db0b0"}) {
    Response r = ConsoleResponse(kFiles, path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8") << path;
    EXPECT_EQ(r.body, kFiles[0].data) << path;
    EXPECT_EQ(Header(r, "Cache-Control"), "no-cache") << path;
  }
}

TEST(Console, HashedAssetsAreImmutableWithTheirType) {
  Response js = ConsoleResponse(kFiles, "/console/assets/index-abc.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(js, "Cache-Control"), "public, max-age=31536000, immutable");
  Response css = ConsoleResponse(kFiles, "/console/assets/index-def.css");
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  Response svg = ConsoleResponse(kFiles, "/console/favicon.svg");
  EXPECT_EQ(svg.content_type, "image/svg+xml");
  EXPECT_EQ(Header(svg, "Cache-Control"), "no-cache");  // not hashed
}

TEST(Console, AMissingAssetIsNotFoundRatherThanIndex) {
  Response r = ConsoleResponse(kFiles, "/console/assets/index-old.js");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body.find("<!doctype"), std::string::npos);
}

TEST(Console, EveryAnswerCarriesAStrictPolicy) {
  for (const char* path : {"/console", "/console/", "/console/assets/x.js", "/console/calls"}) {
    Response r = ConsoleResponse(kFiles, path);
    const std::string csp = Header(r, "Content-Security-Policy");
    EXPECT_EQ(csp, kConsoleCsp) << path;
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
    EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff") << path;
    EXPECT_EQ(Header(r, "X-Frame-Options"), "DENY") << path;
  }
}

TEST(Console, AnEmptyBuildAnswersNotFound) {
  Response r = ConsoleResponse({}, "/console/");
  EXPECT_EQ(r.status, 404);
}

TEST(Console, ContentTypes) {
  EXPECT_EQ(ContentTypeFor("a.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.woff2"), "font/woff2");
  EXPECT_EQ(ContentTypeFor("a.png"), "image/png");
  EXPECT_EQ(ContentTypeFor("a.bin"), "application/octet-stream");
}

}  // namespace
}  // namespace http
