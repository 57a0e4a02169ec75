#!/usr/bin/env python3
"""Prints docs/spec.md's appendix parts for a stored reference transcript.

    tools/transcript_appendix.py tests/data/transcript_koo2010.txt A root|draws|keys

prints, in markdown, one part of the appendix for the run: the TA's root certificate, the table
of draws or the derived keys, numbered under appendix A (or B). The messages' sections are the ones already in the spec;
tests/transcript_test.cpp checks that the spec shows every value of the file.
"""
import sys
import textwrap


def records(path):
    record = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("#"):
            continue
        if not line:
            if record:
                yield record
            record = {}
            continue
        name, _, value = line.partition("=")
        record[name.strip()] = value.strip()
    if record:
        yield record


def block(hex_text):
    return "```\n" + "\n".join(textwrap.wrap(hex_text, 96)) + "\n```\n"


def main(path, letter, part):
    all_records = list(records(path))
    messages = [r for r in all_records if "From" in r]
    if part == "root":
        root = next(r for r in all_records if "Certificate" in r)
        print(f"{letter}.0 The TA's root certificate (DER, {len(root['Bytes']) // 2} bytes):\n")
        print(block(root["Bytes"]), end="")
    elif part == "draws":
        print_draws(all_records, letter)
    else:
        print_keys(all_records, letter, len(messages))


def print_draws(all_records, letter):
    print("The draws, in the order they are made, each with the message it goes into:\n")
    print("| # | stream | into | purpose | bytes |")
    print("|---|---|---|---|---|")
    number = 0
    for r in all_records:
        if "Stream" in r:
            number += 1
            into = r["Into"].replace("message ", f"{letter}.")
            print(f"| {number} | `{r['Stream']}` | {into} | {r['Purpose']} | `{r['Bytes']}` |")


def print_keys(all_records, letter, message_count):
    print(f"{letter}.{message_count + 1} The keys of the run, derived from the draws above "
          "(the ControlWord of "
          f"{letter}.{message_count} opens under them):\n")
    print("```")
    for r in all_records:
        if "Derived" in r:
            print(f"{r['Derived']:<9} = {r['Bytes']}")
    print("```")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
