// Serving the embedded web UI (api/web_ui.hpp) and what the embedded files must respect: every
// reference resolves, no inline script (the CSP forbids it), no HTML built from strings.
#include "api/web_ui.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "api/web_assets.hpp"

namespace tocsin::api {
namespace {

Request Get(std::string path) {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  r.target = r.path;
  return r;
}

std::string HeaderOf(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

const WebAsset* Find(std::string_view path) {
  for (const auto& a : EmbeddedWebAssets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

TEST(WebUi, RootServesIndexHtmlWithStrictHeaders) {
  WebUi ui;
  auto r = ui.Serve(Get("/"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
  EXPECT_NE(r->body.find("<!doctype html>"), std::string::npos);
  const std::string csp = HeaderOf(*r, "Content-Security-Policy");
  EXPECT_EQ(csp.rfind("default-src 'self'", 0), 0u) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(HeaderOf(*r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(HeaderOf(*r, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(HeaderOf(*r, "X-Frame-Options"), "DENY");
  EXPECT_FALSE(HeaderOf(*r, "ETag").empty());
}

TEST(WebUi, ClientSideRoutesFallBackToIndexHtml) {
  WebUi ui;
  const auto index = ui.Serve(Get("/index.html"));
  ASSERT_TRUE(index);
  for (const char* path : {"/integrations/notification-tools", "/projects/acme.web/findings",
                           "/deliveries", "/no/such/page"}) {
    auto r = ui.Serve(Get(path));
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->body, index->body) << path;
  }
}

TEST(WebUi, FilesHaveTheirContentTypes) {
  WebUi ui;
  auto css = ui.Serve(Get("/assets/app.css"));
  ASSERT_TRUE(css);
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  auto js = ui.Serve(Get("/assets/js/main.js"));
  ASSERT_TRUE(js);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  auto svg = ui.Serve(Get("/favicon.svg"));
  ASSERT_TRUE(svg);
  EXPECT_EQ(svg->content_type, "image/svg+xml");
}

TEST(WebUi, AMissingAssetIsA404NotTheApp) {
  WebUi ui;
  auto r = ui.Serve(Get("/assets/js/missing.js"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(HeaderOf(*r, "X-Content-Type-Options"), "nosniff");
}

TEST(WebUi, LeavesTheApiAndOtherMethodsToTheRouter) {
  WebUi ui;
  EXPECT_FALSE(ui.Serve(Get("/api/v1/nope")));
  EXPECT_FALSE(ui.Serve(Get("/api")));
  Request post = Get("/");
  post.method = "POST";
  EXPECT_FALSE(ui.Serve(post));
  Request head = Get("/");
  head.method = "HEAD";
  EXPECT_TRUE(ui.Serve(head));
}

TEST(WebUi, AMatchingIfNoneMatchAnswers304WithoutABody) {
  WebUi ui;
  auto first = ui.Serve(Get("/assets/app.css"));
  ASSERT_TRUE(first);
  const std::string etag = HeaderOf(*first, "ETag");
  ASSERT_EQ(etag.front(), '"');
  for (const std::string& inm : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    Request again = Get("/assets/app.css");
    again.headers.emplace_back("if-none-match", inm);
    auto r = ui.Serve(again);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 304) << inm;
    EXPECT_TRUE(r->body.empty());
    EXPECT_EQ(HeaderOf(*r, "ETag"), etag);
  }
  Request stale = Get("/assets/app.css");
  stale.headers.emplace_back("if-none-match", "\"stale\"");
  EXPECT_EQ(ui.Serve(stale)->status, 200);
}

TEST(WebUi, SecurityHeadersDoNotOverrideOnesAlreadySet) {
  Response r;
  r.headers.emplace_back("X-Frame-Options", "SAMEORIGIN");
  AddSecurityHeaders(&r);
  int count = 0;
  for (const auto& [k, v] : r.headers) count += k == "X-Frame-Options";
  EXPECT_EQ(count, 1);
  EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "SAMEORIGIN");
  EXPECT_EQ(HeaderOf(r, "Referrer-Policy"), "no-referrer");
}

TEST(EmbeddedWebAssets, EveryFileHasAPathTypeAndQuotedEtag) {
  std::set<std::string_view> paths;
  ASSERT_FALSE(EmbeddedWebAssets().empty());
  for (const auto& a : EmbeddedWebAssets()) {
    EXPECT_EQ(a.path.front(), '/');
    EXPECT_TRUE(paths.insert(a.path).second) << a.path;
    EXPECT_FALSE(a.content_type.empty()) << a.path;
    EXPECT_EQ(a.etag.size(), 34u) << a.path;  // "<32 hex>"
    EXPECT_FALSE(a.body.empty()) << a.path;
  }
  EXPECT_TRUE(paths.count("/index.html"));
}

// The values of every `name="..."` attribute in an HTML text.
std::vector<std::string> AttributeValues(const std::string& html, const std::string& name) {
  std::vector<std::string> out;
  const std::string open = " " + name + "=\"";
  for (size_t at = html.find(open); at != std::string::npos; at = html.find(open, at + 1)) {
    const size_t begin = at + open.size();
    const size_t end = html.find('"', begin);
    if (end == std::string::npos) break;
    out.push_back(html.substr(begin, end - begin));
  }
  return out;
}

// index.html loads only embedded files, by absolute path (client routes are nested), and has
// no inline script, style or event handler for the CSP to block.
TEST(EmbeddedWebAssets, IndexReferencesOnlyEmbeddedFilesAndNoInlineCode) {
  const WebAsset* index = Find("/index.html");
  ASSERT_NE(index, nullptr);
  const std::string html(index->body);
  int refs = 0;
  for (const char* attr : {"src", "href"}) {
    for (const std::string& target : AttributeValues(html, attr)) {
      if (target.rfind('#', 0) == 0) continue;
      ++refs;
      EXPECT_EQ(target.front(), '/') << target;
      EXPECT_NE(Find(target), nullptr) << target << " is not embedded";
    }
  }
  EXPECT_GE(refs, 3);
  int scripts = 0;
  for (size_t at = html.find("<script"); at != std::string::npos;
       at = html.find("<script", at + 1)) {
    const std::string tag = html.substr(at, html.find('>', at) - at);
    EXPECT_NE(tag.find(" src=\""), std::string::npos) << "inline script: " << tag;
    ++scripts;
  }
  EXPECT_GE(scripts, 1);
  EXPECT_EQ(html.find("style="), std::string::npos) << "inline style";
  EXPECT_EQ(html.find("<style"), std::string::npos) << "inline style";
  for (size_t at = html.find(" on"); at != std::string::npos; at = html.find(" on", at + 1)) {
    size_t i = at + 3;
    while (i < html.size() && std::islower(static_cast<unsigned char>(html[i]))) ++i;
    EXPECT_FALSE(i > at + 3 && i < html.size() && html[i] == '=')
        << "inline handler: " << html.substr(at, i - at);
  }
  EXPECT_EQ(html.find("http://"), std::string::npos) << "external resource";
  EXPECT_EQ(html.find("https://"), std::string::npos) << "external resource";
}

// Every relative import of every module resolves to an embedded file.
TEST(EmbeddedWebAssets, EveryModuleImportResolves) {
  int imports = 0;
  for (const auto& a : EmbeddedWebAssets()) {
    if (!a.path.ends_with(".js")) continue;
    const std::string js(a.body);
    const std::string dir(a.path.substr(0, a.path.rfind('/') + 1));
    const std::string from = " from '";
    for (size_t at = js.find(from); at != std::string::npos; at = js.find(from, at + 1)) {
      const size_t begin = at + from.size();
      const std::string written = js.substr(begin, js.find('\'', begin) - begin);
      std::string spec = written;
      ASSERT_TRUE(spec.rfind("./", 0) == 0 || spec.rfind("../", 0) == 0)
          << a.path << " imports '" << spec << "': only relative imports work offline";
      std::string base = dir;
      while (spec.rfind("../", 0) == 0) {
        base = base.substr(0, base.rfind('/', base.size() - 2) + 1);
        spec = spec.substr(3);
      }
      if (spec.rfind("./", 0) == 0) spec = spec.substr(2);
      ++imports;
      EXPECT_NE(Find(base + spec), nullptr) << a.path << " imports " << written;
    }
  }
  EXPECT_GE(imports, 10);
}

// Server text reaches the page only as text: no HTML parsing sinks, no eval, no external URLs.
TEST(EmbeddedWebAssets, ScriptsUseNoHtmlSinksEvalOrExternalHosts) {
  for (const auto& a : EmbeddedWebAssets()) {
    if (!a.path.ends_with(".js")) continue;
    const std::string js(a.body);
    for (const char* sink :
         {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
          "DOMParser", "createContextualFragment", "setAttribute('style'", "localStorage"}) {
      EXPECT_EQ(js.find(sink), std::string::npos) << a.path << " uses " << sink;
    }
    // A URL in a string literal: only the SVG namespace (a name, not a resource) and
    // example.com placeholders.
    for (size_t at = js.find("http"); at != std::string::npos; at = js.find("http", at + 1)) {
      if (at == 0 || std::string_view("'\"`").find(js[at - 1]) == std::string_view::npos) continue;
      const std::string rest = js.substr(at, 64);
      if (rest.rfind("http://", 0) != 0 && rest.rfind("https://", 0) != 0) continue;
      const size_t host_begin = rest.find("://") + 3;
      size_t host_end = host_begin;
      while (host_end < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[host_end])) ||
                                        rest[host_end] == '.' || rest[host_end] == '-')) {
        ++host_end;
      }
      const std::string host = rest.substr(host_begin, host_end - host_begin);
      const bool allowed = rest.rfind("http://www.w3.org/2000/svg", 0) == 0 ||
                           host == "example.com" || host.ends_with(".example.com");
      EXPECT_TRUE(allowed) << a.path << " names an external URL: " << rest;
    }
  }
}

}  // namespace
}  // namespace tocsin::api
