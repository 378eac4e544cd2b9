module.exports = { QUEUE: process.env.QUEUE ?? 'orders' };
