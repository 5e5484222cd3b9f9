"""What the tests share: a clock moved by hand, the queue folder and the ledger as tests read
them, a programmable platform, fake mail, daemons in this process and as subprocesses."""
