#include "store/call_cache.h"

#include <gtest/gtest.h>

namespace store {
namespace {

engine::Call CallWithTags(int n) {
  engine::Call c;
  c.uuid = "6f1c2a4e-0000-4000-8000-000000000001";
  c.id = 7;
  for (int i = 0; i < n; ++i) c.tags.push_back(engine::Tag{"k" + std::to_string(i), "v"});
  return c;
}

std::vector<std::string> Keys(const engine::Call& c) {
  std::vector<std::string> keys;
  for (const auto& t : c.tags) keys.push_back(t.key);
  return keys;
}

TEST(CallCache, SavedTagsAreAppendedToTheCachedCall) {
  CallCache cache(4);
  engine::Call read = CallWithTags(2);
  cache.Put(read);
  engine::Call changed = read;
  changed.tags.push_back(engine::Tag{"k2", "v"});
  changed.status = engine::Status::kEnded;  // not saved: only the tags are
  cache.BeginUnit();
  cache.PutSavedTags(changed, 1);
  const engine::Call* cached = cache.Find(read.uuid);
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ(Keys(*cached), (std::vector<std::string>{"k0", "k1", "k2"}));
  EXPECT_EQ(cached->status, read.status);
}

TEST(CallCache, SavedTagsReplaceCachedTagsThatAreNotTheOnesBefore) {
  CallCache cache(4);
  cache.Put(CallWithTags(1));  // older than what the unit saved on
  engine::Call changed = CallWithTags(4);
  cache.BeginUnit();
  cache.PutSavedTags(changed, 1);
  EXPECT_EQ(Keys(*cache.Find(changed.uuid)), Keys(changed));
}

TEST(CallCache, AnUndoneUnitForgetsTheCallsItSaved) {
  CallCache cache(4);
  engine::Call read = CallWithTags(1);
  cache.Put(read);
  engine::Call changed = CallWithTags(2);
  cache.BeginUnit();
  cache.PutSavedTags(changed, 1);
  cache.RollbackUnit();
  EXPECT_EQ(cache.Find(read.uuid), nullptr);
}

}  // namespace
}  // namespace store
