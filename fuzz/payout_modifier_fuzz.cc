// Fuzzes the payout modifier (core/payout_modifier.h) and the money parser (core/money.h) on
// the same text.
// Properties: no crash, no signed overflow (UBSan); a refusal names a byte position inside the
// text; Apply never fails and stays within [0, Money::kMaxCents]; the identity gives the
// revenue back; Money::Parse(ToString()) reads back the same amount.
#include <cstddef>
#include <cstdint>

#include "core/money.h"
#include "core/payout_modifier.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::AsText(data, size);

  if (auto money = core::Money::Parse(text)) {
    FUZZ_CHECK(money->cents() >= 0 && money->cents() <= core::Money::kMaxCents);
    auto again = core::Money::Parse(money->ToString());
    FUZZ_CHECK(again.has_value() && *again == *money);
  } else {
    fuzz::CheckInvalidArgument(money.error());
  }

  auto modifier = core::PayoutModifier::Parse(text);
  if (!modifier) {
    fuzz::CheckPosition(modifier.error(), "payout modifier: ", text.size());
    return 0;
  }
  FUZZ_CHECK(modifier->text() == text);
  static constexpr int64_t kRevenues[] = {0,      1,         5,         99,
                                          100,    1050,      10000,     123456789,
                                          999999, 100000000, 1LL << 40, core::Money::kMaxCents};
  for (int64_t cents : kRevenues) {
    const core::Money payout = modifier->Apply(core::Money::FromCents(cents));
    FUZZ_CHECK(payout.cents() >= 0 && payout.cents() <= core::Money::kMaxCents);
    if (modifier->empty()) FUZZ_CHECK(payout.cents() == cents);
  }
  return 0;
}
