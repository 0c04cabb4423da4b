"""What every service needs: configuration, the message bus, the event contracts, the database glue."""
