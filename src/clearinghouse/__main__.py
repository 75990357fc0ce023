from clearinghouse.cli.main import main

main()
