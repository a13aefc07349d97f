#include "config/shared_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace config {
namespace {

using Map = SharedMap<int, std::string>;

void ExpectEqual(const Map& m, const std::map<int, std::string>& want) {
  ASSERT_EQ(m.size(), want.size());
  EXPECT_EQ(m.empty(), want.empty());
  auto w = want.begin();
  for (const auto& [k, v] : m) {
    ASSERT_NE(w, want.end());
    EXPECT_EQ(k, w->first);
    EXPECT_EQ(v, w->second);
    ++w;
  }
  EXPECT_EQ(w, want.end());
}

TEST(SharedMap, BehavesAsAnOrderedMap) {
  std::mt19937 rng(7);
  Map m;
  std::map<int, std::string> want;
  for (int step = 0; step < 20'000; ++step) {
    const int key = static_cast<int>(rng() % 2'000);
    switch (rng() % 4) {
      case 0:
      case 1:
        m[key] = std::to_string(step);
        want[key] = std::to_string(step);
        break;
      case 2:
        EXPECT_EQ(m.emplace(key, "e"), want.emplace(key, "e").second);
        break;
      case 3:
        EXPECT_EQ(m.erase(key), want.erase(key));
        break;
    }
    const int probe = static_cast<int>(rng() % 2'100) - 50;
    auto lb = m.lower_bound(probe);
    auto wlb = want.lower_bound(probe);
    ASSERT_EQ(lb == m.end(), wlb == want.end());
    if (wlb != want.end()) {
      EXPECT_EQ(lb->first, wlb->first);
    }
    auto ub = m.upper_bound(probe);
    auto wub = want.upper_bound(probe);
    ASSERT_EQ(ub == m.end(), wub == want.end());
    if (wub != want.end()) {
      EXPECT_EQ(ub->first, wub->first);
    }
    EXPECT_EQ(m.count(probe), want.count(probe));
    if (want.count(probe)) {
      EXPECT_EQ(m.at(probe), want.at(probe));
    }
  }
  ExpectEqual(m, want);
  EXPECT_THROW((void)m.at(5'000), std::out_of_range);
  // Erasing everything, in an order of its own, thins and merges chunks down to none.
  std::vector<int> keys;
  for (const auto& [k, v] : want) keys.push_back(k);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (int k : keys) {
    ASSERT_EQ(m.erase(k), 1u);
    want.erase(k);
    if (want.size() % 97 == 0) ExpectEqual(m, want);
  }
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.begin(), m.end());
}

TEST(SharedMap, ACopyChangesWithoutChangingTheOriginal) {
  Map original;
  std::map<int, std::string> want;
  for (int k = 0; k < 1'000; ++k) {
    original[k * 2] = "v" + std::to_string(k);
    want[k * 2] = "v" + std::to_string(k);
  }
  // References into the original, which must stay valid and unchanged through the copies'
  // changes (a published snapshot's objects are pointed at while newer ones are made).
  std::vector<const std::string*> refs;
  for (const auto& [k, v] : original) refs.push_back(&v);

  std::mt19937 rng(11);
  Map copy = original;
  std::map<int, std::string> copy_want = want;
  for (int step = 0; step < 3'000; ++step) {
    const int key = static_cast<int>(rng() % 2'500);
    if (rng() % 3 == 0) {
      EXPECT_EQ(copy.erase(key), copy_want.erase(key));
    } else {
      copy[key] = "c" + std::to_string(step);
      copy_want[key] = "c" + std::to_string(step);
    }
    if (step % 500 == 0) {
      Map copy_of_copy = copy;  // a second generation shares with the first, too
      copy_of_copy[-1] = "x";
      EXPECT_EQ(copy.count(-1), 0u);
    }
  }
  ExpectEqual(copy, copy_want);
  ExpectEqual(original, want);
  size_t i = 0;
  for (const auto& [k, v] : original) EXPECT_EQ(refs[i++], &v) << k;
  EXPECT_FALSE(copy == original);
  Map again = original;
  EXPECT_TRUE(again == original);
}

TEST(SharedMap, StringKeys) {
  SharedMap<std::string, int> m;
  for (int i = 0; i < 300; ++i) m["+1555" + std::to_string(1'000'000 - i)] = i;
  EXPECT_EQ(m.size(), 300u);
  EXPECT_EQ(m.at("+15551000000"), 0);
  EXPECT_EQ(m.find("+1"), m.end());
  std::string last;
  for (const auto& [k, v] : m) {
    EXPECT_LT(last, k);
    last = k;
  }
}

}  // namespace
}  // namespace config
