#include "api/json_input.hpp"

#include "core/strings.hpp"

namespace tocsin::api {

namespace {

// Depth check without recursion on the parsed tree: nlohmann's parser itself recurses, so a
// 100,000-deep document must be refused before parsing. Counts brackets outside strings.
bool DepthWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

}  // namespace

Result<nlohmann::json> ParseJsonBody(const Request& request, int max_depth, bool allow_empty) {
  if (Trim(request.body).empty()) {
    if (allow_empty) return nlohmann::json::object();
    return Fail("invalid_json", "the request body is empty; a JSON object was expected",
                "send a JSON body with Content-Type: application/json");
  }
  const auto ct = request.Header("content-type");
  if (!ct) {
    return Fail("unsupported_media_type", "Content-Type is missing",
                "send the body with Content-Type: application/json");
  }
  const std::string media = ToLower(Trim(std::string_view(*ct).substr(0, ct->find(';'))));
  if (media != "application/json") {
    return Fail("unsupported_media_type", "Content-Type " + media + " is not accepted here",
                "send the body with Content-Type: application/json");
  }
  if (!IsValidUtf8(request.body)) {
    return Fail("invalid_utf8", "the request body is not valid UTF-8",
                "encode the body as UTF-8");
  }
  if (!DepthWithin(request.body, max_depth)) {
    return Fail("invalid_json",
                "the JSON body is nested deeper than " + std::to_string(max_depth) + " levels",
                "flatten the document");
  }
  try {
    return nlohmann::json::parse(request.body);
  } catch (const nlohmann::json::parse_error& e) {
    return Fail("invalid_json",
                "the body is not valid JSON (at byte " + std::to_string(e.byte) + ")",
                "check the JSON syntax");
  }
}

ObjectReader::ObjectReader(const nlohmann::json& object, std::string pointer)
    : object_(object), pointer_(std::move(pointer)) {
  if (!object_.is_object()) {
    Record(Error{"invalid_request",
                 (pointer_.empty() ? std::string("the body") : pointer_) + " must be a JSON object",
                 "", pointer_.empty() ? "/" : pointer_});
  }
}

void ObjectReader::Record(Error e) {
  if (!error_) error_ = std::move(e);
}

const nlohmann::json* ObjectReader::Take(const std::string& name, bool required,
                                         const char* type) {
  taken_.insert(name);
  if (!object_.is_object()) return nullptr;
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) {
    if (required) {
      Record(Error{"invalid_request", Pointer(name) + " is required (" + type + ")", "",
                   Pointer(name)});
    }
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> ObjectReader::String(const std::string& name, bool required) {
  const auto* v = Take(name, required, "a string");
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    Record(Error{"invalid_request", Pointer(name) + " must be a string, not " + v->type_name(), "",
                 Pointer(name)});
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<bool> ObjectReader::Bool(const std::string& name, bool required) {
  const auto* v = Take(name, required, "true or false");
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    Record(Error{"invalid_request", Pointer(name) + " must be true or false, not " + v->type_name(),
                 "", Pointer(name)});
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<int64_t> ObjectReader::Int(const std::string& name, bool required) {
  const auto* v = Take(name, required, "an integer");
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) {
    Record(Error{"invalid_request", Pointer(name) + " must be an integer, not " + v->type_name(),
                 "", Pointer(name)});
    return std::nullopt;
  }
  return v->get<int64_t>();
}

std::optional<double> ObjectReader::Number(const std::string& name, bool required) {
  const auto* v = Take(name, required, "a number");
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    Record(Error{"invalid_request", Pointer(name) + " must be a number, not " + v->type_name(), "",
                 Pointer(name)});
    return std::nullopt;
  }
  return v->get<double>();
}

const nlohmann::json* ObjectReader::Value(const std::string& name, bool required) {
  return Take(name, required, "a value");
}

Result<void> ObjectReader::Finish() {
  if (object_.is_object()) {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (!taken_.count(it.key())) {
        Record(Error{"invalid_request", "unknown field " + Pointer(it.key()),
                     "remove the field; see docs/api.md for the accepted fields", Pointer(it.key())});
        break;
      }
    }
  }
  if (error_) return Unexpected(*error_);
  return {};
}

}  // namespace tocsin::api
