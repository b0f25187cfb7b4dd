// sarif_gen — writes a SARIF 2.1.0 log of N results in the shape CodeQL writes (rules in an
// extension, partialFingerprints, a code flow, related locations, security-severity), for
// sarif_bench. About 1 KB per result: the default 100,000 results make ~100 MB.
//
//   sarif_gen [--results N] [--seed S] [--out FILE]   (default: 100000 results to stdout)
//
// Deterministic for a given seed. No library beyond the standard one.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

uint64_t g_state = 0x2545F4914F6CDD1Dull;
uint64_t Next() {
  g_state ^= g_state << 13;
  g_state ^= g_state >> 7;
  g_state ^= g_state << 17;
  return g_state;
}

std::string Hex(uint64_t v, int digits) {
  static const char kHex[] = "0123456789abcdef";
  std::string s(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = kHex[v & 0xF];
  return s;
}

constexpr int kRules = 200;
constexpr int kFiles = 5000;

std::string RuleId(int r) { return "js/rule-" + std::to_string(r); }
std::string File(int f) {
  return "src/mod" + std::to_string(f % 97) + "/file" + std::to_string(f) + ".js";
}

void Out(FILE* out, const std::string& s) { std::fwrite(s.data(), 1, s.size(), out); }

void WriteRule(FILE* out, int r) {
  static const char* kSeverities[] = {"9.8", "8.8", "7.5", "6.1", "5.3", "4.3", "3.1", "2.0"};
  static const char* kLevels[] = {"error", "warning", "note"};
  std::string s;
  s +=
      R"({"id":")" + RuleId(r) + R"(","name":")" + RuleId(r) +
      R"(","shortDescription":{"text":"Potential problem number )" + std::to_string(r) +
      R"( in user-controlled data flow"},"fullDescription":{"text":"Data that flows from a remote source to a sensitive sink without sanitization may allow an attacker to change the behaviour of the application (rule )" +
      std::to_string(r) + R"()."},"defaultConfiguration":{"enabled":true,"level":")" +
      kLevels[r % 3] + R"("},"properties":{"tags":["security","external/cwe/cwe-0)" +
      std::to_string(20 + r % 900) +
      R"("],"kind":"path-problem","precision":"high","problem.severity":")" + kLevels[r % 3] +
      R"(","security-severity":")" + kSeverities[r % 8] + R"("}})";
  Out(out, s);
}

// The members of a location object (its braces are the caller's).
void WriteLocation(std::string& s, int file, int line, int col) {
  s += R"("physicalLocation":{"artifactLocation":{"uri":")" + File(file) +
       R"(","uriBaseId":"%SRCROOT%","index":)" + std::to_string(file) +
       R"(},"region":{"startLine":)" + std::to_string(line) + R"(,"startColumn":)" +
       std::to_string(col) + R"(,"endColumn":)" + std::to_string(col + 12) + "}}";
}

void WriteResult(FILE* out, long i) {
  const int rule = static_cast<int>(Next() % kRules);
  const int file = static_cast<int>(Next() % kFiles);
  const int line = 1 + static_cast<int>(Next() % 2000);
  const int source_file = static_cast<int>(Next() % kFiles);
  const int source_line = 1 + static_cast<int>(Next() % 2000);
  std::string s;
  s.reserve(1200);
  s +=
      R"({"ruleId":")" + RuleId(rule) + R"(","ruleIndex":)" + std::to_string(rule) +
      R"(,"rule":{"id":")" + RuleId(rule) + R"(","index":)" + std::to_string(rule) +
      R"(,"toolComponent":{"index":0}},"message":{"text":"This value depends on a [user-provided value](1) (result )" +
      std::to_string(i) + R"()."},"locations":[{)";
  WriteLocation(s, file, line, 9);
  s +=
      R"(}],"partialFingerprints":{"primaryLocationLineHash":")" + Hex(Next(), 16) +
      R"(:1","primaryLocationStartColumnFingerprint":"4"},"codeFlows":[{"threadFlows":[{"locations":[)";
  for (int step = 0; step < 1; ++step) {
    if (step) s += ",";
    s += R"({"location":{)";
    WriteLocation(s, source_file, source_line, 5);
    s += R"(,"message":{"text":"step )" + std::to_string(step) + R"("}}})";
  }
  s += R"(]}]}],"relatedLocations":[{"id":1,)";
  WriteLocation(s, source_file, source_line, 21);
  s += R"(,"message":{"text":"user-provided value"}}]})";
  Out(out, s);
}

}  // namespace

int main(int argc, char** argv) {
  long results = 100000;
  const char* path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--results") && i + 1 < argc) {
      results = std::atol(argv[++i]);
    } else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) {
      g_state = std::strtoull(argv[++i], nullptr, 10) | 1;
    } else if (!std::strcmp(argv[i], "--out") && i + 1 < argc) {
      path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: sarif_gen [--results N] [--seed S] [--out FILE]\n");
      return 2;
    }
  }
  FILE* out = path ? std::fopen(path, "wb") : stdout;
  if (!out) {
    std::perror(path);
    return 1;
  }
  Out(out,
      R"({"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":{"driver":{"name":"CodeQL","organization":"GitHub","semanticVersion":"2.15.3","rules":[]},"extensions":[{"name":"codeql/javascript-queries","semanticVersion":"0.8.3","rules":[)");
  for (int r = 0; r < kRules; ++r) {
    if (r) Out(out, ",");
    WriteRule(out, r);
  }
  Out(out,
      R"(]}]},"invocations":[{"toolExecutionNotifications":[],"executionSuccessful":true}],"originalUriBaseIds":{"%SRCROOT%":{"uri":"file:///home/runner/work/app/app/"}},"artifacts":[)");
  for (int f = 0; f < kFiles; ++f) {
    if (f) Out(out, ",");
    Out(out, R"({"location":{"uri":")" + File(f) + R"(","uriBaseId":"%SRCROOT%","index":)" +
                 std::to_string(f) + "}}");
  }
  Out(out, R"(],"results":[)");
  for (long i = 0; i < results; ++i) {
    if (i) Out(out, ",");
    WriteResult(out, i);
  }
  Out(out,
      R"(],"columnKind":"utf16CodeUnits","properties":{"semmle.formatSpecifier":"sarif-latest"}}]})");
  Out(out, "\n");
  if (path && std::fclose(out) != 0) {
    std::perror(path);
    return 1;
  }
  return 0;
}
