from ._stub_server import main

main()
