// cli/scan_upload.hpp — `tocsin scan upload`: send a SARIF file from CI to a Tocsin server.
//
// The file is streamed (never loaded whole) and gzip-compressed on the fly; on a terminal a
// progress bar shows how much of the file has gone, in a pipe nothing does. The server's summary
// is printed; any failure prints the server's error message and hint and exits non-zero.
#pragma once

#include <string>

namespace tocsin::cli {

struct ScanUploadOptions {
  std::string server;  // base URL of Tocsin, e.g. https://tocsin.example.com
  std::string token;   // API token (admin or project:<name>)
  std::string project;
  std::string scanner;  // "" = the tool's name from the file
  std::string branch;   // "" = the server's default ("default")
  std::string file;
  bool insecure = false;
  std::string ca_file;
  int timeout_s = 600;
  bool json = false;  // print the server's JSON answer instead of the text summary
};

// Returns the process exit code: 0 uploaded; 1 the server refused it or it could not be sent;
// 2 a local problem (file missing, bad options).
int RunScanUpload(const ScanUploadOptions& options);

}  // namespace tocsin::cli
