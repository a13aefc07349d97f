// Request input parsers (params.h) and the SIP hooks' parameters (sip_params.h), with the
// inputs the fuzzers (fuzz/) found.
#include "http/params.h"

#include <gtest/gtest.h>

#include <string>

#include "http/sip_params.h"

namespace http {
namespace {

using Pairs = engine::Params;

TEST(ParseForm, DecodesPairsInOrder) {
  auto form = ParseForm("key=ck_1&value=12.50&sale&name=John+Smith&city=New%20York");
  ASSERT_TRUE(form.has_value());
  EXPECT_EQ(*form, (Pairs{{"key", "ck_1"},
                          {"value", "12.50"},
                          {"sale", ""},
                          {"name", "John Smith"},
                          {"city", "New York"}}));
}

TEST(ParseForm, RefusesBadEncodingAndInvalidUtf8) {
  EXPECT_FALSE(ParseForm("a=%ZZ").has_value());
  EXPECT_FALSE(ParseForm("a=%C3%28").has_value());
  EXPECT_EQ(ParseForm("a=%C3%28").error().code, core::ErrorCode::kInvalidArgument);
}

// Found by fuzz/sip_params_fuzz.cc (ASan: heap-buffer-overflow in strlen): Boost.URL's
// parse_query read past a view that was not NUL-terminated and took the bytes after it.
TEST(ParseForm, StaysWithinTheView) {
  const std::string data = "abc=def&ghi=jkl&mno=pqr";
  const std::string_view view(data.data(), data.size() - 2);
  auto form = ParseForm(view);
  ASSERT_TRUE(form.has_value());
  EXPECT_EQ(*form, (Pairs{{"abc", "def"}, {"ghi", "jkl"}, {"mno", "p"}}));
  // A raw NUL is no query character: refused before anything measures the text.
  EXPECT_FALSE(ParseForm(std::string_view("a=1\0b=2", 7)).has_value());
}

TEST(RequestParams, AppendsAFormOrFlatJsonBody) {
  Request r;
  r.method = "POST";
  r.body = R"({"value":12.5,"tags":["a",null,"b"],"n":null})";
  r.headers.push_back({"Content-Type", "Application/JSON; charset=utf-8"});
  auto p = RequestParams(r, "key=k");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, (Pairs{{"key", "k"}, {"value", "12.5"}, {"tags", "a"}, {"tags", "b"}}));
  // Numbers as their shortest text that reads back the same, every digit kept.
  r.body = R"({"a":12.345678901234567,"b":0.1,"c":18446744073709551615,"d":-3,"e":1e3})";
  EXPECT_EQ(*RequestParams(r, ""), (Pairs{{"a", "12.345678901234567"},
                                          {"b", "0.1"},
                                          {"c", "18446744073709551615"},
                                          {"d", "-3"},
                                          {"e", "1000"}}));
  r.body = R"({"a":{"b":1}})";
  EXPECT_FALSE(RequestParams(r, "").has_value());
  // A number past a double's range is refused, never the tag "inf".
  for (
      const char* body :
      {R"({"a":1e999})", R"({"a":[-1e999]})",
       R"({"a":1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000})"}) {
    r.body = body;
    auto bad = RequestParams(r, "");
    ASSERT_FALSE(bad.has_value()) << body;
    EXPECT_EQ(bad.error().message, "a: the number is out of range") << body;
  }
  r.headers.clear();
  r.body = "value=7.25";
  EXPECT_EQ(*RequestParams(r, ""), (Pairs{{"value", "7.25"}}));
  // A form body may end in a line break, as `echo … | curl --data-binary @-` sends it.
  r.body = "value=7.25&a=1\r\n";
  EXPECT_EQ(*RequestParams(r, ""), (Pairs{{"value", "7.25"}, {"a", "1"}}));
}

TEST(SipParams, ReadsARoute) {
  auto q = ReadSipRoute({{"to", "8005550100"}, {"from", "anonymous"}, {"callid", "c@h"}});
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->number, "+18005550100");
  EXPECT_EQ(q->caller_number, "");
  EXPECT_EQ(q->edge_call_id, "c@h");
  EXPECT_EQ(ReadSipRoute({{"from", "+15551234567"}}).error().field, "to");
  EXPECT_EQ(ReadSipRoute({{"to", "nope"}}).error().code, core::ErrorCode::kNotFound);
  EXPECT_EQ(ReadSipRoute({{"to", "+18005550100"}, {"callid", std::string(256, 'c')}}).error().field,
            "callid");
}

TEST(SipParams, ReadsAnEvent) {
  auto q = ReadSipEvent({{"uuid", "u"}, {"type", "failed"}, {"code", "486"}, {"at", "12.25"}});
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->uuid, "u");
  EXPECT_EQ(q->event.type, engine::EventType::kEnded);
  EXPECT_TRUE(q->event.failed);
  EXPECT_EQ(q->event.hung_up_by, "failed:486");
  EXPECT_EQ(q->event.at, 12'250);
  EXPECT_EQ(ReadSipEvent({{"uuid", "u"}, {"type", "failed"}, {"code", "4860"}})->event.hung_up_by,
            "failed");
  EXPECT_EQ(ReadSipEvent({{"type", "answered"}}).error().field, "uuid");
  EXPECT_EQ(ReadSipEvent({{"uuid", "u"}, {"type", "ringing"}}).error().field, "type");
  EXPECT_EQ(ReadSipEvent({{"uuid", "u"}, {"type", "ended"}, {"at", "1.2.3"}}).error().field, "at");
}

TEST(SipParams, ParsesEventTimes) {
  EXPECT_EQ(ParseSipEventTime("1795876796"), 1'795'876'796'000);
  EXPECT_EQ(ParseSipEventTime("1795876796.5"), 1'795'876'796'500);
  EXPECT_EQ(ParseSipEventTime("1795876796.123456"), 1'795'876'796'123);
  EXPECT_EQ(ParseSipEventTime("999999999999.999"), 999'999'999'999'999);
  EXPECT_EQ(ParseSipEventTime("2026-11-28T14:39:56.123Z"), 1'795'876'796'123);
  EXPECT_FALSE(ParseSipEventTime("1000000000000"));  // 13 digits
  EXPECT_FALSE(ParseSipEventTime(".5"));
  EXPECT_FALSE(ParseSipEventTime("-1"));
  EXPECT_FALSE(ParseSipEventTime("1.x"));
}

}  // namespace
}  // namespace http
