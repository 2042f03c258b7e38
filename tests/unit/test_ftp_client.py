"""The test client's own logic (playbooks/files/ftp_client.py): its command line and how it reads the
reply that ends a command. What it does on the wire is checked against real servers (tests/e2e)."""

import ftplib
import socket

import pytest
from ftp_client import REPLIES, SITUATIONS, final_reply, parse, reply_of, state


def test_steal_takes_a_direction_and_a_tls_version():
    args = parse(["steal", "host", "put", "--user", "u", "--password", "p", "--ca", "ca.crt", "--tls", "1.3"])
    assert (args.command, args.host, args.direction, args.tls, args.port) == ("steal", "host", "put", "1.3", 21)


def test_many_defaults_to_fifty_passive_files():
    args = parse(["many", "host", "--user", "u", "--password", "p", "--ca", "ca.crt"])
    assert (args.files, args.active, args.tls) == (50, False, "")


def test_pasv_needs_no_certificate():
    args = parse(["pasv", "host", "--user", "u", "--password", "p", "--extended"])
    assert (args.command, args.extended, args.timeout) == ("pasv", True, 20)


def test_run_takes_commands_in_order_and_its_flags():
    args = parse(["run", "host", "--user", "u", "--password", "p", "-c", "CWD upload", "-c", "STOR a b.txt",
                  "--active", "--size", "12345"])
    assert (args.commands, args.active, args.size, args.ca, args.prot) == (["CWD upload", "STOR a b.txt"], True,
                                                                         12345, "", "P")


def test_run_moves_files_when_told():
    args = parse(["run", "host", "--user", "u", "--password", "p", "--upload", "a.bin", "--download", "b.bin",
                  "--debug", "-c", "STOR x", "-c", "RETR x"])
    assert (args.upload, args.download, args.debug) == ("a.bin", "b.bin", True)


def test_replies_names_every_command_in_three_situations():
    assert all(len(paths) == len(SITUATIONS) for paths in REPLIES.values())
    assert {"LIST", "NLST", "MLSD", "MLST", "CWD", "SIZE", "MDTM", "RETR", "STOR", "DELE", "RMD", "RNFR",
            "MKD"} == set(REPLIES)


def test_probe_waits_a_second_unless_told():
    args = parse(["probe", "host", "21", "1433", "--repeat", "8"])
    assert (args.ports, args.repeat, args.wait, args.timeout) == ([21, 1433], 8, 1, 20)


def test_state_tells_open_from_closed_on_loopback():
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        assert state("127.0.0.1", port, 1) == "open"
    assert state("127.0.0.1", port, 1) == "closed"


@pytest.mark.parametrize("argv", [["steal", "host", "sideways", "--user", "u", "--password", "p", "--ca", "c"],
                                  ["many", "host", "--user", "u", "--password", "p", "--ca", "c", "--tls", "1.1"],
                                  ["pasv", "host", "--user", "u"],
                                  ["probe", "host"],
                                  ["hold", "host"],
                                  ["guess", "host", "--user", "u"],
                                  ["greeting"]])
def test_bad_command_lines_are_refused(argv):
    with pytest.raises(SystemExit):
        parse(argv)


class Replies:
    """A control connection that answers with the given replies, then hangs up."""

    def __init__(self, *replies):
        self.replies = list(replies)

    def getresp(self):
        if not self.replies:
            raise EOFError("closed")
        reply = self.replies.pop(0)
        if reply[0] in "45":
            raise ftplib.error_perm(reply)
        return reply


def test_final_reply_skips_preliminary_ones():
    assert final_reply(Replies("150 Opening", "522 SSL connection failed")) == "522 SSL connection failed"


def test_final_reply_says_when_the_connection_ends():
    assert final_reply(Replies("150 Opening")).startswith("closed")


def test_reply_of_turns_errors_into_text():
    assert reply_of(lambda: (_ for _ in ()).throw(OSError("reset"))) == "closed: OSError('reset')"
