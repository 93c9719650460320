// The low-level parsers every reader relies on: exact decimal times, wall clocks, CSV fields,
// JSON members.
#include "traces/text_scan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "traces/jsonl_scan.h"

namespace flowkv::traces::detail {
namespace {

TEST(TextScan, DecimalTimesAreExact) {
  int64_t ns = 0;
  ASSERT_TRUE(parse_decimal_ns("4.314579", 9, ns));
  EXPECT_EQ(ns, 4'314'579'000);
  ASSERT_TRUE(parse_decimal_ns("0.1", 9, ns));  // 0.1 s is not exact as a double; here it is
  EXPECT_EQ(ns, 100'000'000);
  ASSERT_TRUE(parse_decimal_ns("1.2345678919", 9, ns));  // digits beyond 1 ns are dropped
  EXPECT_EQ(ns, 1'234'567'891);
  ASSERT_TRUE(parse_decimal_ns("1500", 6, ns));  // milliseconds
  EXPECT_EQ(ns, 1'500'000'000);
  ASSERT_TRUE(parse_decimal_ns(".5", 6, ns));
  EXPECT_EQ(ns, 500'000);
  ASSERT_TRUE(parse_decimal_ns("-2.5", 9, ns));
  EXPECT_EQ(ns, -2'500'000'000);
  ASSERT_TRUE(parse_decimal_ns("1e-05", 9, ns));
  EXPECT_EQ(ns, 10'000);
  for (const char* bad : {"", ".", "1.2.3", "abc", "1,5", "99999999999999999999"}) {
    EXPECT_FALSE(parse_decimal_ns(bad, 9, ns)) << bad;
  }
}

TEST(TextScan, WallClock) {
  int64_t ns = 0;
  ASSERT_TRUE(parse_wallclock_ns("1970-01-01 00:00:00", ns));
  EXPECT_EQ(ns, 0);
  ASSERT_TRUE(parse_wallclock_ns("2023-11-16 18:15:46.6805900", ns));
  EXPECT_EQ(ns, 1'700'158'546'680'590'000);  // date -u -d '2023-11-16 18:15:46' +%s = 1700158546
  ASSERT_TRUE(parse_wallclock_ns("2000-02-29T12:00:00Z", ns));
  EXPECT_EQ(ns, 951'825'600'000'000'000);
  ASSERT_TRUE(parse_wallclock_ns("2000-02-29 13:30:00+01:30", ns));
  EXPECT_EQ(ns, 951'825'600'000'000'000);
  for (const char* bad :
       {"2023-11-16", "2023-13-01 00:00:00", "1900-02-29 00:00:00", "2023-11-16 24:00:00",
        "2023-11-16 10:00:00.", "2023-11-16 10:00:00 PM", "16/11/2023 10:00:00"}) {
    EXPECT_FALSE(parse_wallclock_ns(bad, ns)) << bad;
  }
}

TEST(TextScan, Counts) {
  int64_t n = 0;
  ASSERT_TRUE(parse_count(" 374 ", n));
  EXPECT_EQ(n, 374);
  ASSERT_TRUE(parse_count("12.000", n));
  EXPECT_EQ(n, 12);
  ASSERT_TRUE(parse_count("1,200", n));  // a quoted CSV field from a spreadsheet export
  EXPECT_EQ(n, 1200);
  ASSERT_TRUE(parse_count("12,345,678", n));
  EXPECT_EQ(n, 12345678);
  for (const char* bad :
       {"-1", "12.5", "1e3", "", "0x10", "12a", "1,20", ",100", "1234,567", "1,,200"}) {
    EXPECT_FALSE(parse_count(bad, n)) << bad;
  }
}

TEST(TextScan, CsvFieldsAndLines) {
  std::vector<std::string_view> f;
  ASSERT_TRUE(split_csv("a,\"b,c\",,d", f));
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[1], "b,c");
  EXPECT_EQ(f[2], "");
  EXPECT_FALSE(split_csv("a,\"b", f));
  LineReader lines("x\r\ny\n\nz");
  std::string_view line;
  std::vector<std::string> got;
  while (lines.next(line)) got.emplace_back(line);
  EXPECT_EQ(got, (std::vector<std::string>{"x", "y", "", "z"}));
  EXPECT_EQ(lines.line_number(), 4);
}

TEST(TextScan, JsonMembers) {
  std::vector<JsonMember> m;
  std::string error;
  ASSERT_TRUE(scan_json_object(
      R"( {"a": 1.5, "s": "x\"}", "arr": [1, [2, 3]], "o": {"k": "]"}, "n": null} )", m, error))
      << error;
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0].raw, "1.5");
  EXPECT_EQ(m[1].kind, JsonKind::kString);
  EXPECT_EQ(m[1].raw, "x\\\"}");
  EXPECT_EQ(m[2].raw, "[1, [2, 3]]");
  EXPECT_EQ(m[3].kind, JsonKind::kObject);
  EXPECT_EQ(find_member(m, "n")->raw, "null");
  EXPECT_EQ(find_member(m, "missing"), nullptr);
  EXPECT_FALSE(scan_json_object(R"({"a": 1} x)", m, error));
  EXPECT_FALSE(scan_json_object(R"({"a" 1})", m, error));
  EXPECT_FALSE(scan_json_object(R"({"a": 1,})", m, error));
  EXPECT_FALSE(scan_json_object(R"({"a": nope})", m, error));
  std::vector<uint64_t> v;
  ASSERT_TRUE(parse_uint_array("[ 1,2 , 18446744073709551615 ]", v));
  EXPECT_EQ(v, (std::vector<uint64_t>{1, 2, 18446744073709551615ull}));
  ASSERT_TRUE(parse_uint_array("[]", v));
  EXPECT_TRUE(v.empty());
  EXPECT_FALSE(parse_uint_array("[1,,2]", v));
  EXPECT_FALSE(parse_uint_array("[1.5]", v));
}

}  // namespace
}  // namespace flowkv::traces::detail
